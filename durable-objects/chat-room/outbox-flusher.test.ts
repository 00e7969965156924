import { describe, expect, it } from "vitest";
import type { ArchiveBatchInput, Message } from "../../protocol/index.js";
import { DEFAULT_OUTBOX, type OutboxRow } from "./outbox.js";
import { OutboxFlusher } from "./outbox-flusher.js";
import type { RoomMeta } from "./store.js";

const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 3, last_activity: 0 };

function fake(answers: number[]) {
  let rows: OutboxRow[] = [1, 2, 3].map((seq) => ({ id: seq, kind: "message", seq, payload: null, created_at: 0 }));
  const deferred: number[] = [];
  const parked: number[] = [];
  const posted: ArchiveBatchInput[] = [];
  let nextAt: number | null = 0;
  let pruned = 0;
  const flusher = new OutboxFlusher(
    {
      meta: () => meta,
      sink: {
        postBatch: async (b) => {
          posted.push(b);
          return { status: answers.shift() ?? 200, detail: "" };
        },
      },
      outbox: {
        state: () => ({ count: rows.length, oldest: rows.length ? 0 : null, nextAt, attempts: deferred.length }),
        head: (n) => rows.slice(0, n),
        settle: (ids) => (rows = rows.filter((r) => !ids.includes(r.id))),
        defer: (_ids, at) => void (deferred.push(at), (nextAt = at)),
        park: (ids) => void (parked.push(...ids), (rows = rows.filter((r) => !ids.includes(r.id)))),
      },
      message: (seq) =>
        ({
          room_id: "r",
          seq,
          body: `m${seq}`,
          mentions: [],
          mention_all: false,
          created_at: `2026-01-01T00:00:0${seq}.000Z`,
        }) as unknown as Message,
      pruneHotTail: () => void pruned++,
      wake: () => {},
      clock: () => 1000,
    },
    { ...DEFAULT_OUTBOX, maxItems: 2 },
    () => 0.5,
  );
  return { flusher, posted, deferred, parked, rows: () => rows, pruned: () => pruned };
}

describe("OutboxFlusher", () => {
  it("sends the oldest items in order, in batches, settling each on the sink's 200, then prunes", async () => {
    const f = fake([200, 200]);
    await f.flusher.run();
    expect(f.posted.map((b) => (b.messages ?? []).map((m) => m.seq))).toEqual([[1, 2], [3]]);
    expect(f.rows()).toEqual([]);
    expect(f.pruned()).toBe(1);
  });
  it("keeps everything and backs off while the sink is down", async () => {
    const f = fake([503]);
    await f.flusher.run();
    expect(f.rows().length).toBe(3);
    expect(f.deferred).toHaveLength(1);
    expect(f.deferred[0]).toBeGreaterThan(1000);
    expect(f.flusher.dueAt(1000)).toBe(f.deferred[0]);
    expect(f.pruned()).toBe(0);
  });
  it("sets a batch the sink calls malformed aside and goes on with the next", async () => {
    const f = fake([400, 200]);
    await f.flusher.run();
    expect(f.parked).toEqual([1, 2]);
    expect(f.rows()).toEqual([]);
  });
  it("is due at once for a full batch, after the (jittered) window for fewer", () => {
    expect(fake([]).flusher.dueAt(1000)).toBe(1000);
  });
});
