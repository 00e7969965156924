import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import { loginLimits, throttleKeys } from "./throttle.js";

describe("login throttle rules", () => {
  it("runs on tight per-(handle, IP), looser per-IP and per-handle limits by default", () => {
    const l = loginLimits({});
    expect(l).toEqual({ windowMs: 900_000, perHandleIp: 5, perIp: 30, perHandle: 20 });
    expect(l.perHandleIp).toBeLessThan(l.perHandle);
  });

  it("reads its [vars] and refuses nonsense", () => {
    expect(loginLimits({ LOGIN_FAILURES_PER_HANDLE: "100", LOGIN_WINDOW_SECONDS: "60" })).toMatchObject({
      perHandle: 100,
      windowMs: 60_000,
    });
    expect(() => loginLimits({ LOGIN_FAILURES_PER_HANDLE_IP: "0" })).toThrow(ConfigError);
  });

  it("gives each (handle, IP) pair, handle and IP a key of its own", () => {
    const a = throttleKeys("alice", "192.0.2.1");
    expect(a).toEqual({ handleIp: "hi:192.0.2.1|alice", handle: "h:alice", ip: "i:192.0.2.1" });
    expect(throttleKeys("alice", "192.0.2.2").handleIp).not.toBe(a.handleIp);
    expect(throttleKeys("bob", "192.0.2.1").ip).toBe(a.ip);
  });

  it("throttles an unknown address per handle only", () => {
    expect(throttleKeys("alice", null)).toEqual({ handleIp: "hi:|alice", handle: "h:alice", ip: null });
  });
});
