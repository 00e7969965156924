// When a socket must close and with which code: pure rules the socket host applies (sockets.ts),
// tested without a runtime.
import type { SocketInfo } from "./sockets.js";

export const CloseCode = {
  normal: 1000,
  policy: 1008,
  tokenExpired: 4001,
  silent: 4002,
  removed: 4003,
  loggedOut: 4004,
  suspended: 4005,
  roomGone: 4006,
  tooManySockets: 4007,
} as const;

/**
 * The code to answer a peer's close with: 1005 (no code) and 1006 (abnormal) may not be sent, and
 * 1015 (TLS) neither; everything else a peer sent is valid to echo.
 */
export function echoCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
}

export interface CloseDecision {
  code: number;
  reason: string;
}

/** Why a socket must close now, or null. `lastPing` is the runtime's auto-response timestamp. */
export function closeDecision(
  info: SocketInfo,
  lastPing: number | null,
  now: number,
  silentMs: number,
): CloseDecision | null {
  if (now >= info.tokenExpiresAt) {
    return {
      code: CloseCode.tokenExpired,
      reason: "access token expired; reconnect, or send an auth frame before it expires",
    };
  }
  const lastHeard = Math.max(info.openedAt, info.seenAt, lastPing ?? 0);
  if (now - lastHeard >= silentMs) {
    return {
      code: CloseCode.silent,
      reason: `silent for ${Math.round(silentMs / 1000)} s; send {"type":"ping"} every 25 s`,
    };
  }
  return null;
}

/** When the sweep must look at this socket next. */
export function nextCheck(info: SocketInfo, lastPing: number | null, silentMs: number): number {
  const lastHeard = Math.max(info.openedAt, info.seenAt, lastPing ?? 0);
  return Math.min(info.tokenExpiresAt, lastHeard + silentMs);
}
