import { describe, expect, it } from "vitest";
import { TokenBucket, TokenBuckets } from "./token-bucket.js";

describe("TokenBuckets", () => {
  it("allows a burst, then refuses with the wait until the next token", () => {
    const b = new TokenBuckets({ perSecond: 2, burst: 3 });
    expect([b.take("a", 0), b.take("a", 0), b.take("a", 0)]).toEqual([0, 0, 0]);
    expect(b.take("a", 0)).toBe(500);
    expect(b.take("a", 499)).toBeGreaterThan(0);
    expect(b.take("a", 500)).toBe(0);
  });

  it("keeps senders apart", () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1 });
    expect(b.take("a", 0)).toBe(0);
    expect(b.take("b", 0)).toBe(0);
    expect(b.take("a", 0)).toBe(1000);
  });

  it("never refills past the burst", () => {
    const b = new TokenBuckets({ perSecond: 10, burst: 2 });
    b.take("a", 0);
    expect([b.take("a", 60_000), b.take("a", 60_000), b.take("a", 60_000)]).toEqual([0, 0, 100]);
  });

  it("bounds memory by dropping full buckets", () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1 }, 2);
    b.take("a", 0);
    b.take("b", 0);
    b.take("c", 10_000); // a and b have refilled: evicted
    expect((b as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(1);
  });
});

describe("TokenBucket", () => {
  it("starts full, spends by cost, and says how long until a larger cost fits", () => {
    const b = new TokenBucket({ perSecond: 1000, burst: 5000 }, 0);
    expect(b.take(0, 4000)).toBe(0);
    expect(b.available(0)).toBe(1000);
    expect(b.take(0, 3000)).toBe(2000);
    expect(b.available(2000)).toBe(3000);
    expect(b.full(10_000)).toBe(true);
  });

  it("does not refill when the clock goes back", () => {
    const b = new TokenBucket({ perSecond: 1, burst: 1 }, 1000);
    expect(b.take(1000)).toBe(0);
    expect(b.take(500)).toBeGreaterThan(0);
    expect(b.take(2000)).toBe(0);
  });
});
