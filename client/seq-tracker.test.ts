import { describe, expect, it } from "vitest";
import { SeqTracker } from "./seq-tracker.js";

const m = (seq: number) => ({ seq });
const seqs = (items: Array<{ seq: number }>) => items.map((i) => i.seq);

describe("SeqTracker", () => {
  it("delivers in order and drops what it delivered before", () => {
    const t = new SeqTracker(0);
    expect(seqs(t.offer(m(1)))).toEqual([1]);
    expect(seqs(t.offer(m(2)))).toEqual([2]);
    expect(t.offer(m(2))).toEqual([]);
    expect(t.offer(m(1))).toEqual([]);
    expect(t.last).toBe(2);
    expect(t.gap()).toBeNull();
  });

  it("holds messages after a gap, names the gap, and delivers the run once it is filled", () => {
    const t = new SeqTracker(3);
    expect(t.offer(m(6))).toEqual([]);
    expect(t.offer(m(7))).toEqual([]);
    expect(t.offer(m(7))).toEqual([]);
    expect(t.gap()).toEqual({ from: 4, to: 5 });
    expect(t.maxAhead()).toBe(7);
    expect(seqs(t.offer(m(4)))).toEqual([4]);
    expect(t.gap()).toEqual({ from: 5, to: 5 });
    expect(seqs(t.offer(m(5)))).toEqual([5, 6, 7]);
    expect(t.gap()).toBeNull();
    expect(t.last).toBe(7);
  });

  it("a room new to us starts at its first message, or where start() says", () => {
    const fresh = new SeqTracker();
    expect(fresh.started).toBe(false);
    expect(seqs(fresh.offer(m(501)))).toEqual([501]);
    expect(fresh.gap()).toBeNull();
    const empty = new SeqTracker();
    empty.start(12);
    empty.start(99); // only the first start counts
    expect(empty.last).toBe(12);
    expect(seqs(empty.offer(m(13)))).toEqual([13]);
  });

  it("skips seqs that cannot be had and delivers what was held after them", () => {
    const t = new SeqTracker(0);
    t.offer(m(4));
    t.offer(m(5));
    t.offer(m(9));
    expect(seqs(t.skipTo(3))).toEqual([4, 5]);
    expect(t.gap()).toEqual({ from: 6, to: 8 });
    expect(seqs(t.skipTo(8))).toEqual([9]);
    expect(t.skipTo(2)).toEqual([]);
    expect(t.last).toBe(9);
  });

  it("lets a held message be brought up to date before delivery", () => {
    const t = new SeqTracker<{ seq: number; body: string }>(0);
    t.offer({ seq: 2, body: "old" });
    t.replaceHeld({ seq: 2, body: "new" });
    t.replaceHeld({ seq: 3, body: "never held" });
    expect(t.held(2)?.body).toBe("new");
    expect(t.offer({ seq: 1, body: "one" }).map((x) => x.body)).toEqual(["one", "new"]);
    expect(t.offer({ seq: 3, body: "three" }).map((x) => x.body)).toEqual(["three"]);
  });
});
