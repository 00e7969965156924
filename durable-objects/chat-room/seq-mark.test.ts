import { describe, expect, it } from "vitest";
import { SeqMark } from "./seq-mark.js";
import type { RoomMeta } from "./store.js";

function fake(o: { recovering?: boolean } = {}) {
  const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 0, last_activity: 0 };
  const state = {
    reported: 0,
    recovering: o.recovering ?? false,
    recorded: [] as number[],
    wakes: [] as number[],
    fail: false,
    now: 0,
  };
  const mark = new SeqMark(
    {
      meta: () => meta,
      recovering: () => state.recovering,
      reported: () => state.reported,
      setReported: (s) => void (state.reported = s),
      record: async (_room, seq) => {
        if (state.fail) throw new Error("pg down");
        state.recorded.push(seq);
      },
      wake: (at) => void state.wakes.push(at),
      clock: () => state.now,
    },
    100,
    () => 0.5,
  );
  return { mark, meta, state };
}

describe("SeqMark", () => {
  it("reports the room's last seq to PostgreSQL once per window, not once per message", async () => {
    const { mark, meta, state } = fake();
    expect(mark.dueAt(0)).toBeNull();
    meta.last_seq = 1;
    mark.noted(0);
    meta.last_seq = 2;
    mark.noted(10);
    expect(state.wakes).toEqual([100]);
    expect(mark.dueAt(10)).toBe(100);
    await mark.run(50); // not due yet
    expect(state.recorded).toEqual([]);
    state.now = 100;
    await mark.run(100);
    expect(state.recorded).toEqual([2]);
    expect(state.reported).toBe(2);
    expect(mark.dueAt(100)).toBeNull();
  });

  it("reports at once when asked, and says whether PostgreSQL confirmed it", async () => {
    const { mark, meta, state } = fake();
    meta.last_seq = 3;
    state.fail = true;
    expect(await mark.reportNow()).toBe(false);
    state.fail = false;
    expect(await mark.reportNow()).toBe(true);
    expect(state.recorded).toEqual([3]);
    expect(await mark.reportNow()).toBe(true); // nothing new: no second write
    expect(state.recorded).toEqual([3]);
  });

  it("after a restart (window forgotten) reports what PostgreSQL has not confirmed at once", async () => {
    const { mark, meta, state } = fake();
    meta.last_seq = 9;
    state.reported = 4;
    expect(mark.dueAt(500)).toBe(500);
    await mark.run(500);
    expect(state.recorded).toEqual([9]);
  });

  it("retries with backoff while PostgreSQL is down, and reports nothing while the room is recovering", async () => {
    const { mark, meta, state } = fake();
    meta.last_seq = 3;
    state.fail = true;
    await mark.run(0);
    expect(state.reported).toBe(0);
    expect(mark.dueAt(0)).toBe(200);
    state.fail = false;
    await mark.run(200);
    expect(state.recorded).toEqual([3]);

    const r = fake({ recovering: true });
    r.meta.last_seq = 5;
    expect(r.mark.dueAt(0)).toBeNull();
    await r.mark.run(0);
    expect(r.state.recorded).toEqual([]);
  });
});

describe("SeqMark's window", () => {
  it("is drawn per room between 0.75 and 1.25 of the setting", () => {
    const host = {
      meta: () => ({ room_id: "r", type: "group" as const, version: 1, active: true, last_seq: 1, last_activity: 0 }),
      recovering: () => false,
      reported: () => 0,
      setReported: () => {},
      record: async () => {},
      wake: () => {},
      clock: () => 0,
    };
    const dueWith = (r: number) => {
      const mark = new SeqMark(host, 1000, () => r);
      mark.noted(0);
      return mark.dueAt(0);
    };
    expect(dueWith(0)).toBe(750);
    expect(dueWith(0.5)).toBe(1000);
    expect(dueWith(0.999)).toBe(1250);
  });
});
