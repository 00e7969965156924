import { describe, expect, it } from "vitest";
import { CloseCode, closeDecision, nextCheck, type SocketInfo } from "./sockets.js";

const info = (over: Partial<SocketInfo> = {}): SocketInfo => ({
  userId: "u",
  deviceId: "d",
  tokenExpiresAt: 1_000_000,
  openedAt: 0,
  seenAt: 0,
  ...over,
});

describe("socket close rules", () => {
  it("closes a socket whose token expired", () => {
    expect(closeDecision(info({ tokenExpiresAt: 500 }), 499, 500, 60_000)?.code).toBe(CloseCode.tokenExpired);
  });
  it("keeps a socket that pinged within the silence window and closes one that did not", () => {
    expect(closeDecision(info(), 10_000, 69_999, 60_000)).toBeNull();
    expect(closeDecision(info(), 10_000, 70_000, 60_000)?.code).toBe(CloseCode.silent);
  });
  it("counts frames and the open time as signs of life when there was no ping", () => {
    expect(closeDecision(info({ openedAt: 50_000 }), null, 100_000, 60_000)).toBeNull();
    expect(closeDecision(info({ seenAt: 80_000 }), null, 130_000, 60_000)).toBeNull();
    expect(closeDecision(info({ seenAt: 80_000 }), null, 140_000, 60_000)?.code).toBe(CloseCode.silent);
  });
  it("asks to be checked again at the earlier of expiry and silence", () => {
    expect(nextCheck(info({ tokenExpiresAt: 30_000 }), 0, 60_000)).toBe(30_000);
    expect(nextCheck(info({ openedAt: 5_000 }), null, 60_000)).toBe(65_000);
  });
});
