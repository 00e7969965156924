import { describe, expect, it } from "vitest";
import { TOO_MANY_SOCKETS_DELAY_MS, closeAction } from "./close-policy.js";

describe("what a close code means to the client", () => {
  it("4001 refreshes and reconnects; 4004 and 4005 sign out, on either socket", () => {
    for (const socket of ["room", "session"] as const) {
      expect(closeAction(4001, socket)).toEqual({ do: "refresh" });
      expect(closeAction(4004, socket)).toEqual({ do: "sign_out", reason: "logged_out" });
      expect(closeAction(4005, socket)).toEqual({ do: "sign_out", reason: "suspended" });
      expect(closeAction(4007, socket)).toEqual({ do: "reconnect", minDelayMs: TOO_MANY_SOCKETS_DELAY_MS });
    }
  });

  it("4003 and 4006 stop a room's stream for good", () => {
    expect(closeAction(4003, "room")).toEqual({ do: "stop_room", reason: "removed" });
    expect(closeAction(4006, "room")).toEqual({ do: "stop_room", reason: "gone" });
    expect(closeAction(4003, "session")).toEqual({ do: "reconnect" });
  });

  it("everything else reconnects after the backoff", () => {
    for (const code of [1000, 1001, 1006, 1008, 1011, 4000, 4002])
      expect(closeAction(code, "room")).toEqual({ do: "reconnect" });
  });
});
