import { describe, expect, it } from "vitest";
import { Backoff, fullJitter } from "./backoff.js";

describe("full-jitter backoff", () => {
  it("draws between zero and a ceiling that doubles from 0.5 s up to 20 s", () => {
    const top = (attempt: number) => fullJitter(attempt, 500, 20_000, () => 0.999999);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 40].map(top)).toEqual([499, 999, 1999, 3999, 7999, 15999, 19999, 19999, 19999]);
    expect(fullJitter(3, 500, 20_000, () => 0)).toBe(0);
    expect(fullJitter(3, 500, 20_000, () => 0.5)).toBe(2000);
  });

  it("counts attempts and starts over on reset", () => {
    const b = new Backoff({ random: () => 0.999999 });
    expect([b.next(), b.next(), b.next()]).toEqual([499, 999, 1999]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(499);
  });

  it("spreads clients out: a thousand first retries are not in step", () => {
    const delays = Array.from({ length: 1000 }, () => new Backoff().next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(500);
    expect(new Set(delays).size).toBeGreaterThan(300);
  });
});
