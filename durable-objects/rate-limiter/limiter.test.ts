import { describe, expect, it } from "vitest";
import { Limiter, type LimiterHost, type StoredBucket } from "./limiter.js";

interface FakeHost extends LimiterHost {
  stored: StoredBucket | undefined;
  alarm: number | undefined;
}

function fakeHost(): FakeHost {
  const host: FakeHost = {
    stored: undefined as StoredBucket | undefined,
    alarm: undefined as number | undefined,
    load: () => (host.stored ? { ...host.stored } : undefined),
    save: (b: StoredBucket) => void (host.stored = { ...b }),
    clear: () => void (host.stored = undefined),
    wakeAt: (at: number) => void (host.alarm = at),
  };
  return host;
}

describe("Limiter", () => {
  it("allows the burst, then answers the wait until the next token", () => {
    const host = fakeHost();
    const l = new Limiter(host);
    const rule = { perSecond: 0.5, burst: 2 };
    expect([l.take(rule, 0), l.take(rule, 0)]).toEqual([0, 0]);
    expect(l.take(rule, 0)).toBe(2000);
    expect(l.take(rule, 1000)).toBe(1000);
    expect(l.take(rule, 2000)).toBe(0);
  });

  it("keeps its state in the host, so a new instance (an evicted object) goes on counting", () => {
    const host = fakeHost();
    const rule = { perSecond: 1 / 60, burst: 1 };
    expect(new Limiter(host).take(rule, 0)).toBe(0);
    expect(new Limiter(host).take(rule, 10_000)).toBe(50_000);
  });

  it("sets an alarm for when the bucket is full again, and the alarm then forgets the key", () => {
    const host = fakeHost();
    const l = new Limiter(host);
    const rule = { perSecond: 1, burst: 5 };
    l.take(rule, 1000, 3);
    expect(host.alarm).toBe(4000);
    l.take(rule, 2000); // 2 tokens left at 2000: full at 5000, later than the alarm first set
    l.onAlarm(4000);
    expect(host.stored).toBeDefined();
    expect(host.alarm).toBe(5000);
    l.onAlarm(5000);
    expect(host.stored).toBeUndefined();
  });

  it("applies a changed rule at once, keeping the tokens already spent", () => {
    const host = fakeHost();
    const l = new Limiter(host);
    l.take({ perSecond: 1, burst: 10 }, 0, 10);
    expect(l.take({ perSecond: 100, burst: 1000 }, 0)).toBe(10);
    expect(l.take({ perSecond: 100, burst: 1000 }, 10)).toBe(0);
  });
});
