import { describe, expect, it } from "vitest";
import { SocketCaps } from "./socket-caps.js";

describe("SocketCaps", () => {
  it("refuses a device at its cap before a user at theirs, and frees a place when a socket leaves", () => {
    const caps = new SocketCaps({ maxPerUser: 3, maxPerDevice: 2 });
    const a1 = { userId: "a", deviceId: "1" };
    caps.add(a1);
    caps.add(a1);
    expect(caps.refusal(a1)).toMatch(/per device/);
    const a2 = { userId: "a", deviceId: "2" };
    expect(caps.refusal(a2)).toBeNull();
    caps.add(a2);
    expect(caps.refusal({ userId: "a", deviceId: "3" })).toMatch(/per user/);
    expect(caps.refusal({ userId: "b", deviceId: "1" })).toBeNull();
    caps.remove(a1);
    expect(caps.refusal(a1)).toBeNull();
  });

  it("answers whether a user or device still holds a socket, without caps", () => {
    const caps = new SocketCaps({});
    const x = { userId: "u", deviceId: "d" };
    caps.add(x);
    caps.add(x);
    caps.remove(x);
    expect([caps.hasUser("u"), caps.hasDevice("u", "d")]).toEqual([true, true]);
    caps.remove(x);
    expect([caps.hasUser("u"), caps.hasDevice("u", "d"), caps.refusal(x)]).toEqual([false, false, null]);
  });
});
