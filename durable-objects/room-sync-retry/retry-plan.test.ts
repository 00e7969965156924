import { describe, expect, it } from "vitest";
import { GIVE_UP_AFTER_MS, MAX_DELAY_MS, afterAttempt, delayAfter, schedule } from "./retry-plan.js";

const mid = () => 0.5;

describe("the durable membership retry", () => {
  it("backs off exponentially from a second to at most five minutes", () => {
    expect([0, 1, 2, 3].map((a) => delayAfter(a, mid))).toEqual([1000, 2000, 4000, 8000]);
    expect(delayAfter(30, mid)).toBe(MAX_DELAY_MS);
    expect(delayAfter(0, () => 0)).toBe(800);
    expect(delayAfter(0, () => 1)).toBe(1200);
  });

  it("starts a second after the failure and merges later failures into one retry of the newest version", () => {
    const s = schedule(null, "r", 4, 10_000);
    expect(s).toEqual({ room_id: "r", version: 4, attempt: 0, due_at: 11_000, first_failed_at: 10_000 });
    const later = schedule({ ...s, attempt: 6, due_at: 400_000 }, "r", 6, 20_000);
    expect(later).toMatchObject({ version: 6, attempt: 0, due_at: 21_000, first_failed_at: 10_000 });
    expect(schedule(later, "r", 5, 30_000).version).toBe(6);
    // a failure whose version was not known makes the retry reload whatever is current
    expect(schedule(later, "r", null, 30_000).version).toBeNull();
  });

  it("stops once the room answers the version or a newer one, and keeps going while it is behind or unreachable", () => {
    const s = schedule(null, "r", 4, 0);
    expect(afterAttempt(s, { ok: true, version: 4 }, 1000).next).toBeNull();
    expect(afterAttempt(s, { ok: true, version: 7 }, 1000).next).toBeNull();
    const behind = afterAttempt(s, { ok: true, version: 3 }, 1000, mid);
    expect(behind.next).toMatchObject({ attempt: 1, due_at: 3000 });
    const down = afterAttempt(behind.next!, { ok: false, error: "overloaded" }, 3000, mid);
    expect(down.next).toMatchObject({ attempt: 2, due_at: 7000 });
    expect(afterAttempt(schedule(null, "r", null, 0), { ok: true, version: 1 }, 10).next).toBeNull();
  });

  it("gives up after a day, saying so", () => {
    const s = schedule(null, "r", 4, 0);
    expect(afterAttempt(s, { ok: false, error: "x" }, GIVE_UP_AFTER_MS)).toEqual({ next: null, gaveUp: true });
  });
});
