import { describe, expect, it } from "vitest";
import { Recovery, type SeqFacts } from "./recovery.js";
import type { RoomMeta } from "./store.js";

function fake(o: { db?: SeqFacts | null | Error; archive?: SeqFacts | Error | "none"; pending?: boolean } = {}) {
  const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 0, last_activity: 0 };
  const state = {
    pending: o.pending ?? true,
    restored: [] as Array<{ lastSeq: number; offsets: Record<string, number>; reported: number }>,
    joined: [] as Array<Record<string, number | null>>,
    wakes: [] as number[],
    calls: 0,
    now: 1000,
    db: o.db === undefined ? ({ last_seq: 0, offsets: [] } as SeqFacts | null | Error) : o.db,
    archive: o.archive ?? ({ last_seq: 0, offsets: [] } as SeqFacts | Error | "none"),
  };
  const answer = async <T>(v: T | Error): Promise<T> => {
    state.calls++;
    await new Promise((r) => setTimeout(r, 1));
    if (v instanceof Error) throw v;
    return v;
  };
  const recovery = new Recovery({
    meta: () => meta,
    pending: () => state.pending,
    database: () => answer(state.db),
    archive: state.archive === "none" ? null : () => answer(state.archive as SeqFacts | Error),
    restore: (lastSeq, offsets, reported, joined) => {
      state.restored.push({ lastSeq, offsets: Object.fromEntries(offsets), reported });
      state.joined.push(Object.fromEntries(joined));
      state.pending = false;
    },
    wake: (at) => void state.wakes.push(at),
    clock: () => state.now,
  });
  return { recovery, state };
}

describe("Recovery", () => {
  it("continues after the higher of PostgreSQL's and the archive's seq, with the higher read offset of each member", async () => {
    const { recovery, state } = fake({
      db: { last_seq: 40, offsets: [{ user_id: "a", read_seq: 30 }] },
      archive: {
        last_seq: 45,
        offsets: [
          { user_id: "a", read_seq: 20 },
          { user_id: "b", read_seq: 44 },
        ],
      },
    });
    expect(await recovery.known()).toBe(true);
    expect(state.restored).toEqual([{ lastSeq: 45, offsets: { a: 30, b: 44 }, reported: 40 }]);
    // PostgreSQL ahead of the archive (messages stored but not archived yet when storage was lost)
    const other = fake({ db: { last_seq: 60, offsets: [] }, archive: { last_seq: 45, offsets: [] } });
    await other.recovery.known();
    expect(other.state.restored[0]!.lastSeq).toBe(60);
  });

  it("hands PostgreSQL's history floors of later joiners (known or not) to the restore", async () => {
    const { recovery, state } = fake({
      db: {
        last_seq: 9,
        offsets: [],
        joined: [
          { user_id: "late", joined_seq: 4 },
          { user_id: "unknown", joined_seq: null },
        ],
      },
    });
    await recovery.known();
    expect(state.joined).toEqual([{ late: 4, unknown: null }]);
  });

  it("knows at once when the room is not recovering, and asks nobody", async () => {
    const { recovery, state } = fake({ pending: false });
    expect(await recovery.known()).toBe(true);
    expect(await recovery.within(10)).toBe(true);
    expect(recovery.dueAt(5)).toBeNull();
    expect(state.calls).toBe(0);
  });

  it("with no sink configured, PostgreSQL alone decides", async () => {
    const { recovery, state } = fake({ db: { last_seq: 7, offsets: [] }, archive: "none" });
    expect(await recovery.known()).toBe(true);
    expect(state.restored[0]!.lastSeq).toBe(7);
    // a room PostgreSQL does not know starts at 0
    const gone = fake({ db: null, archive: "none" });
    expect(await gone.recovery.known()).toBe(true);
    expect(gone.state.restored[0]!.lastSeq).toBe(0);
  });

  it("stays unknown while either source fails, retries with backoff from the alarm, and then restores", async () => {
    const { recovery, state } = fake({ db: { last_seq: 9, offsets: [] }, archive: new Error("sink down") });
    expect(recovery.dueAt(1000)).toBe(1000); // due at once
    expect(await recovery.known()).toBe(false);
    expect(state.restored).toEqual([]);
    expect(state.wakes).toEqual([1500]);
    expect(recovery.dueAt(1000)).toBe(1500);
    state.now = 1500;
    await recovery.run();
    expect(state.wakes).toEqual([1500, 2500]); // doubled
    state.archive = { last_seq: 12, offsets: [] };
    state.db = new Error("pg down");
    expect(await recovery.known()).toBe(false);
    state.db = { last_seq: 9, offsets: [] };
    await recovery.run();
    expect(state.restored).toEqual([{ lastSeq: 12, offsets: {}, reported: 9 }]);
    expect(recovery.dueAt(3000)).toBeNull();
  });

  it("waits for a sink that is down even when PostgreSQL knows the room at 0 (it reports only now and then)", async () => {
    const { recovery, state } = fake({ db: { last_seq: 0, offsets: [] }, archive: new Error("sink down") });
    expect(await recovery.known()).toBe(false);
    expect(state.restored).toEqual([]);
    // and PostgreSQL itself must answer
    const pgDown = fake({ db: new Error("pg down"), archive: { last_seq: 0, offsets: [] } });
    expect(await pgDown.recovery.known()).toBe(false);
  });

  it("runs one attempt for every waiter, and within() stops waiting at its bound", async () => {
    const { recovery, state } = fake();
    const all = await Promise.all([recovery.known(), recovery.known(), recovery.within(1000)]);
    expect(all).toEqual([true, true, true]);
    expect(state.calls).toBe(2); // one database and one archive call
    expect(state.restored).toHaveLength(1);

    const slow = fake();
    const never = new Promise<SeqFacts>(() => {});
    (slow.recovery as unknown as { host: { database: () => Promise<SeqFacts> } }).host.database = () => never;
    expect(await slow.recovery.within(20)).toBe(false);
    expect(slow.state.restored).toEqual([]);
  });
});
