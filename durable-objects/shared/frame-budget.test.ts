import { describe, expect, it } from "vitest";
import { FrameBudget } from "./frame-budget.js";

describe("FrameBudget", () => {
  it("lets a socket spend its burst, then refuses with the wait until the next frame is allowed", () => {
    const b = new FrameBudget<object>({ perSecond: 10, burst: 3 });
    const ws = {};
    expect([b.spend(ws, 0), b.spend(ws, 0), b.spend(ws, 0)]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(b.spend(ws, 0)).toEqual({ ok: false, retryAfterMs: 100, close: false });
    expect(b.spend(ws, 100)).toEqual({ ok: true });
  });

  it("keeps sockets apart", () => {
    const b = new FrameBudget<object>({ perSecond: 1, burst: 1 });
    const [x, y] = [{}, {}];
    expect(b.spend(x, 0).ok).toBe(true);
    expect(b.spend(y, 0).ok).toBe(true);
    expect(b.spend(x, 0).ok).toBe(false);
  });

  it("closes a socket that keeps sending past its budget, not one that slows down", () => {
    const b = new FrameBudget<object>({ perSecond: 10, burst: 5 });
    const flood = {};
    const verdicts = Array.from({ length: 11 }, () => b.spend(flood, 0));
    // 5 allowed, 5 refused (the strike bucket empties), the 11th closes
    expect(verdicts.filter((v) => v.ok).length).toBe(5);
    expect(verdicts.slice(5, 10).every((v) => !v.ok && !v.close)).toBe(true);
    expect(verdicts[10]).toMatchObject({ ok: false, close: true });

    const polite = {};
    let closed = false;
    // one and a half times the allowed rate for a minute: throttled, never closed
    for (let t = 0; t < 60_000; t += 66) {
      const v = b.spend(polite, t);
      if (!v.ok && v.close) closed = true;
    }
    expect(closed).toBe(false);
  });
});
