import { describe, expect, it } from "vitest";
import { RoomReport, type ReadOffsetRow, type RoomReportBody } from "./room-report.js";
import type { RoomMeta } from "./store.js";

const WINDOW = 300_000;

function fake(o: { recovering?: boolean; fail?: number; random?: number } = {}) {
  const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 0, last_activity: 0 };
  const reads = new Map<string, number>();
  const copiedMark = new Map<string, number>();
  const s = {
    now: 1_000,
    reported: 0,
    recovering: o.recovering ?? false,
    fail: o.fail ?? 0,
    sent: [] as RoomReportBody[],
    wakes: [] as number[],
    duringSend: null as (() => void) | null,
  };
  const job = new RoomReport(
    {
      meta: () => meta,
      recovering: () => s.recovering,
      reported: () => s.reported,
      setReported: (seq) => void (s.reported = seq),
      uncopied: () =>
        [...reads]
          .filter(([u, seq]) => seq > (copiedMark.get(u) ?? 0))
          .map(([user_id, read_seq]) => ({ user_id, read_seq })),
      markCopied: (rows) => rows.forEach((r) => copiedMark.set(r.user_id, r.read_seq)),
      send: async (_room, body) => {
        s.duringSend?.();
        if (s.fail > 0) {
          s.fail--;
          throw new Error("connection refused");
        }
        s.sent.push({ seq: body.seq, reads: [...body.reads] });
      },
      wake: (at) => void s.wakes.push(at),
      clock: () => s.now,
    },
    WINDOW,
    () => o.random ?? 0.5, // 0.5: the window exactly
  );
  const at = async (t: number) => {
    s.now = t;
    await job.run(t);
  };
  return {
    job,
    meta,
    s,
    at,
    /** a message was stored */
    message: () => {
      meta.last_seq += 1;
      job.messagesNoted(s.now);
    },
    read: (u: string, seq: number) => {
      reads.set(u, seq);
      job.readsNoted(s.now);
    },
    /** a read an earlier life of the object stored (and never copied) */
    storedRead: (u: string, seq: number) => void reads.set(u, seq),
  };
}
const row = (user_id: string, read_seq: number): ReadOffsetRow => ({ user_id, read_seq });

describe("RoomReport: the sequence", () => {
  it("reports the room's last seq once per window, not once per message", async () => {
    const f = fake();
    expect(f.job.dueAt(1_000)).toBeNull();
    f.message();
    f.s.now = 1_010;
    f.message();
    expect(f.s.wakes).toEqual([1_000 + WINDOW]);
    expect(f.job.dueAt(1_010)).toBe(1_000 + WINDOW);
    await f.at(50_000); // not due yet
    expect(f.s.sent).toEqual([]);
    await f.at(1_000 + WINDOW);
    expect(f.s.sent).toEqual([{ seq: 2, reads: [] }]);
    expect(f.s.reported).toBe(2);
    expect(f.job.dueAt(1_000 + WINDOW)).toBeNull();
  });

  it("after a restart (window forgotten) reports what PostgreSQL has not confirmed at once", async () => {
    const f = fake();
    f.meta.last_seq = 9;
    f.s.reported = 4;
    expect(f.job.dueAt(500)).toBe(500);
    await f.at(500);
    expect(f.s.sent).toEqual([{ seq: 9, reads: [] }]);
  });

  it("retries with backoff while PostgreSQL is down, and reports no sequence while the room is recovering", async () => {
    const f = fake({ fail: 1 });
    f.meta.last_seq = 3;
    await f.at(0);
    expect(f.s.reported).toBe(0);
    expect(f.job.dueAt(0)).toBe(WINDOW);
    await f.at(WINDOW);
    expect(f.s.sent).toEqual([{ seq: 3, reads: [] }]);

    const r = fake({ recovering: true });
    r.meta.last_seq = 5;
    expect(r.job.dueAt(0)).toBeNull();
    await r.at(0);
    expect(r.s.sent).toEqual([]);
  });

  it("draws its window per room between 0.75 and 1.25 of the setting", () => {
    const dueWith = (random: number) => {
      const f = fake({ random });
      f.s.now = 0;
      f.message();
      return f.job.dueAt(0);
    };
    expect(dueWith(0)).toBe(0.75 * WINDOW);
    expect(dueWith(0.5)).toBe(WINDOW);
    expect(dueWith(0.999)).toBeGreaterThan(1.249 * WINDOW);
    expect(dueWith(0.999)).toBeLessThanOrEqual(1.25 * WINDOW);
  });
});

describe("RoomReport: read offsets", () => {
  it("sends the first read after a quiet window at once, then at most once a window", async () => {
    const f = fake();
    f.read("a", 3);
    expect(f.job.dueAt(1_000)).toBe(1_000);
    await f.at(1_000);
    expect(f.s.sent).toEqual([{ seq: null, reads: [row("a", 3)] }]);
    // more reads: they wait for the window, and go out together, each member's newest once
    f.s.now = 2_000;
    f.read("a", 5);
    f.read("b", 2);
    f.read("a", 9);
    expect(f.job.dueAt(2_000)).toBe(1_000 + WINDOW);
    await f.at(2_000);
    expect(f.s.sent).toHaveLength(1);
    await f.at(1_000 + WINDOW);
    expect(f.s.sent[1]).toEqual({ seq: null, reads: [row("a", 9), row("b", 2)] });
    expect(f.job.dueAt(1_000 + WINDOW)).toBeNull();
  });

  it("looks once after a start for what an earlier life left uncopied", async () => {
    const f = fake();
    f.storedRead("a", 4);
    expect(f.job.dueAt(1_000)).toBe(1_000);
    await f.at(1_000);
    expect(f.s.sent).toEqual([{ seq: null, reads: [row("a", 4)] }]);
    // and only once: a later read waits for its window
    f.storedRead("b", 2);
    expect(f.job.dueAt(1_000)).toBeNull();
  });

  it("retries a failed report with a growing wait, and loses no read meanwhile", async () => {
    const f = fake({ fail: 2 });
    f.read("a", 3);
    await f.at(1_000);
    expect(f.s.sent).toEqual([]);
    const first = f.job.dueAt(1_000)!;
    expect(first).toBe(1_000 + WINDOW);
    f.s.now = first;
    f.read("a", 7);
    await f.at(first);
    // the wait doubles, up to five minutes
    const second = f.job.dueAt(first)!;
    expect(second - first).toBe(300_000);
    await f.at(second);
    expect(f.s.sent).toEqual([{ seq: null, reads: [row("a", 7)] }]);
  });

  it("schedules what moved while a report was on its way for the next window", async () => {
    const f = fake();
    f.s.duringSend = () => {
      f.s.duringSend = null;
      f.read("b", 1);
      f.message();
    };
    f.read("a", 3);
    await f.at(1_000);
    expect(f.s.sent).toEqual([{ seq: null, reads: [row("a", 3)] }]);
    expect(f.job.dueAt(1_000)).toBe(1_000 + WINDOW);
  });
});

describe("RoomReport: one round trip for both", () => {
  it("takes the sequence along when reads are due first, and the reads along when the sequence is", async () => {
    const f = fake();
    f.message();
    f.message();
    f.read("a", 2); // the first read after a quiet window: at once, with the sequence
    expect(f.job.dueAt(1_000)).toBe(1_000);
    await f.at(1_000);
    expect(f.s.sent).toEqual([{ seq: 2, reads: [row("a", 2)] }]);
    expect(f.s.reported).toBe(2);

    f.s.now = 5_000;
    f.message();
    f.s.now = 6_000;
    f.read("b", 3); // inside the read window: waits, then rides with the sequence's report
    expect(f.job.dueAt(6_000)).toBe(1_000 + WINDOW);
    await f.at(5_000 + WINDOW);
    expect(f.s.sent).toHaveLength(2);
    expect(f.s.sent[1]).toEqual({ seq: 3, reads: [row("b", 3)] });
    expect(f.job.dueAt(5_000 + WINDOW)).toBeNull();
  });

  it("a failure keeps both for the retry, and nothing else is due meanwhile", async () => {
    const f = fake({ fail: 1 });
    f.message();
    f.read("a", 1);
    await f.at(1_000);
    expect(f.s.sent).toEqual([]);
    expect(f.job.dueAt(1_000)).toBe(1_000 + WINDOW);
    await f.at(1_000 + WINDOW);
    expect(f.s.sent).toEqual([{ seq: 1, reads: [row("a", 1)] }]);
  });
});
