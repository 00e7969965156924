import { describe, expect, it } from "vitest";
import { ReadCopy, type ReadOffsetRow } from "./read-copy.js";

const WINDOW = 300_000;

function fake(opts: { fail?: number } = {}) {
  let now = 1_000;
  let fail = opts.fail ?? 0;
  const reads = new Map<string, number>();
  const copiedMark = new Map<string, number>();
  const copies: ReadOffsetRow[][] = [];
  const wakes: number[] = [];
  let duringCopy: (() => void) | null = null;
  const job = new ReadCopy(
    {
      roomId: () => "room",
      uncopied: () =>
        [...reads]
          .filter(([u, s]) => s > (copiedMark.get(u) ?? 0))
          .map(([user_id, read_seq]) => ({ user_id, read_seq })),
      markCopied: (rows) => rows.forEach((r) => copiedMark.set(r.user_id, r.read_seq)),
      copy: async (_room, rows) => {
        duringCopy?.();
        if (fail > 0) {
          fail--;
          throw new Error("connection refused");
        }
        copies.push([...rows]);
      },
      wake: (at) => void wakes.push(at),
      clock: () => now,
    },
    WINDOW,
    () => 0.5, // the window exactly
  );
  return {
    job,
    copies,
    wakes,
    read: (u: string, seq: number) => {
      reads.set(u, seq);
      job.noted(now);
    },
    /** a read an earlier life of the object stored (and never copied) */
    stored: (u: string, seq: number) => void reads.set(u, seq),
    at: (t: number) => (now = t),
    onCopy: (fn: () => void) => (duringCopy = fn),
  };
}

describe("ReadCopy", () => {
  it("copies the first read after a quiet window at once, then at most once a window", async () => {
    const f = fake();
    f.read("a", 3);
    expect(f.job.dueAt(1_000)).toBe(1_000);
    await f.job.run(1_000);
    expect(f.copies).toEqual([[{ user_id: "a", read_seq: 3 }]]);
    // more reads: they wait for the window, and go out together, each member's newest once
    f.at(2_000);
    f.read("a", 5);
    f.read("b", 2);
    f.read("a", 9);
    expect(f.job.dueAt(2_000)).toBe(1_000 + WINDOW);
    await f.job.run(2_000);
    expect(f.copies).toHaveLength(1);
    f.at(1_000 + WINDOW);
    await f.job.run(1_000 + WINDOW);
    expect(f.copies[1]).toEqual([
      { user_id: "a", read_seq: 9 },
      { user_id: "b", read_seq: 2 },
    ]);
    expect(f.job.dueAt(1_000 + WINDOW)).toBeNull();
  });

  it("looks once after a start for what an earlier life left uncopied", async () => {
    const f = fake();
    f.stored("a", 4);
    expect(f.job.dueAt(1_000)).toBe(1_000);
    await f.job.run(1_000);
    expect(f.copies).toEqual([[{ user_id: "a", read_seq: 4 }]]);
    // and only once: a later read waits for its window
    f.stored("b", 2);
    expect(f.job.dueAt(1_000)).toBeNull();
  });

  it("retries a failed copy with a growing wait, and loses no read meanwhile", async () => {
    const f = fake({ fail: 2 });
    f.read("a", 3);
    await f.job.run(1_000);
    expect(f.copies).toEqual([]);
    const first = f.job.dueAt(1_000)!;
    expect(first).toBe(1_000 + WINDOW);
    f.at(first);
    f.read("a", 7);
    await f.job.run(first);
    // the wait doubles, up to five minutes
    expect(f.job.dueAt(first)! - first).toBe(300_000);
    f.at(f.job.dueAt(first)!);
    await f.job.run(f.job.dueAt(first)!);
    expect(f.copies).toEqual([[{ user_id: "a", read_seq: 7 }]]);
  });

  it("schedules what moved while a copy was on its way for the next window", async () => {
    const f = fake();
    f.onCopy(() => f.read("b", 1));
    f.read("a", 3);
    await f.job.run(1_000);
    expect(f.copies).toEqual([[{ user_id: "a", read_seq: 3 }]]);
    expect(f.job.dueAt(1_000)).toBe(1_000 + WINDOW);
  });
});
