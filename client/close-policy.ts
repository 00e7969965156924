// What a client does when the server closes one of its sockets (README: close codes). Pure, so
// each code's answer is tested on its own; connection.ts and room.ts carry it out.
export type CloseAction =
  /** reconnect after the usual backoff */
  | { do: "reconnect"; minDelayMs?: number }
  /** the token expired: refresh it, then reconnect at once */
  | { do: "refresh" }
  /** this room is over for us (removed, blocked, or the room is gone): stop its stream */
  | { do: "stop_room"; reason: "removed" | "gone" }
  /** the session is over (logged out, suspended): stop everything */
  | { do: "sign_out"; reason: "logged_out" | "suspended" };

/** a user or device over its socket cap should not come straight back and be refused again */
export const TOO_MANY_SOCKETS_DELAY_MS = 5000;

export function closeAction(code: number, socket: "room" | "session"): CloseAction {
  switch (code) {
    case 4001:
      return { do: "refresh" };
    case 4003:
      return socket === "room" ? { do: "stop_room", reason: "removed" } : { do: "reconnect" };
    case 4006:
      return socket === "room" ? { do: "stop_room", reason: "gone" } : { do: "reconnect" };
    case 4004:
      return { do: "sign_out", reason: "logged_out" };
    case 4005:
      return { do: "sign_out", reason: "suspended" };
    case 4007:
      return { do: "reconnect", minDelayMs: TOO_MANY_SOCKETS_DELAY_MS };
    default:
      // 4002 (silent), 1008 (policy), 1006 (the network), 1001/1011/1012 (server going away): try again
      return { do: "reconnect" };
  }
}
