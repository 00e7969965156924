import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./backoff.js";

const rule = { baseMs: 10_000, quotaBaseMs: 60_000, capMs: 15 * 60_000 };

describe("retry backoff", () => {
  it("draws from a window around the base that doubles per try (full jitter)", () => {
    expect(retryDelayMs(rule, 1, {}, () => 0.5)).toBe(10_000);
    expect(retryDelayMs(rule, 2, {}, () => 0.5)).toBe(20_000);
    expect(retryDelayMs(rule, 3, {}, () => 0.999)).toBe(Math.floor(0.999 * 80_000));
    expect(retryDelayMs(rule, 1, {}, () => 0)).toBe(0);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(rule, 1)));
    expect(spread.size).toBeGreaterThan(40);
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...spread)).toBeLessThan(20_000);
  });

  it("starts quota errors from the longer base and caps the window", () => {
    expect(retryDelayMs(rule, 1, { quota: true }, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(rule, 10, {}, () => 0.999)).toBe(Math.floor(0.999 * 15 * 60_000));
  });

  it("never retries before the provider's Retry-After", () => {
    expect(retryDelayMs(rule, 1, { retryAfterMs: 30_000 }, () => 0.1)).toBe(30_000);
    expect(retryDelayMs(rule, 1, { retryAfterMs: 500 }, () => 0.5)).toBe(10_000);
  });
});
