import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import { RATE_LIMITS, limiterName, rateRule } from "./rate-limit.js";

describe("rate-limit rules", () => {
  it("run on the defaults when nothing is configured", () => {
    expect(rateRule({}, "register")).toEqual({ perSecond: 2 / 60, burst: 10 });
    for (const name of Object.keys(RATE_LIMITS) as (keyof typeof RATE_LIMITS)[]) {
      const rule = rateRule({}, name);
      expect(rule.perSecond).toBeGreaterThan(0);
      expect(rule.burst).toBeGreaterThanOrEqual(1);
    }
  });

  it("read each limit's own two [vars], per minute", () => {
    const env = { TICKET_RATE_PER_MINUTE: "600", TICKET_BURST: "3", REGISTER_BURST: "100000" };
    expect(rateRule(env, "ticket")).toEqual({ perSecond: 10, burst: 3 });
    expect(rateRule(env, "register").burst).toBe(100_000);
    expect(rateRule(env, "user_search")).toEqual(rateRule({}, "user_search"));
  });

  it("refuse a value nobody meant, naming the variable", () => {
    expect(() => rateRule({ FRIEND_ADD_BURST: "0" }, "friend_add")).toThrow(ConfigError);
    expect(() => rateRule({ ROOM_CREATE_RATE_PER_MINUTE: "ten" }, "room_create")).toThrow(
      /ROOM_CREATE_RATE_PER_MINUTE/,
    );
  });

  it("keeps limits and keys apart in object names", () => {
    expect(limiterName("ticket", "u1")).not.toBe(limiterName("member_add", "u1"));
    expect(limiterName("ticket", "u1")).not.toBe(limiterName("ticket", "u2"));
  });
});
