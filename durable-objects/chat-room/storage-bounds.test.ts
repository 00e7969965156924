// What the room keeps, bounded: read rows, refused rows, and the hot tail behind a refused batch.
// Against a real SQLite (test/support/sqlite-storage.ts), through the room's own store.
import { describe, expect, it, vi } from "vitest";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { REALTIME_DEFAULTS } from "../shared/config.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { RoomStore } from "./store.js";

const DAY = 86_400_000;
const ROOM = "00000000-0000-4000-8000-00000000000a";

function room() {
  const store = new RoomStore(memorySql());
  store.setMeta({ room_id: ROOM, type: "group", version: 1, active: true, last_seq: 0 });
  const ids = new TimeUuidGenerator();
  const send = (n: number, now: number) => {
    const sends = Array.from({ length: n }, (_, i) => ({
      sender_id: "a",
      frame: { type: "send" as const, room_id: ROOM, client_message_id: `c${now}-${i}`, body: "hi" },
    }));
    store.messages.commitSends(ROOM, sends, now, ids, store.meta()!.last_seq);
  };
  return { store, send };
}
const read = (user: string, seq: number) => ({
  room_id: ROOM,
  user_id: user,
  read_seq: seq,
  updated_at: new Date(0).toISOString(),
});
const settings = { ...REALTIME_DEFAULTS, hotTailMaxMessages: 10, refusedOutboxTtlMs: 7 * DAY, refusedOutboxMax: 50 };

describe("read rows", () => {
  it("keep one offset per member however many reads arrive, the newest", () => {
    const { store } = room();
    for (let seq = 1; seq <= 1000; seq++) store.outbox.addRead(read(["a", "b", "c"][seq % 3]!, seq), seq);
    expect(store.outbox.counts()).toEqual({ read: 3 });
    const head = store.outbox.archiveHead(10);
    expect(head.map((r) => (r.payload as { read_seq: number }).read_seq).sort((x, y) => x - y)).toEqual([
      998, 999, 1000,
    ]);
  });

  it("a flush that holds an older row settles only that one: the newer offset still goes out", () => {
    const { store } = room();
    store.outbox.addRead(read("a", 5), 0);
    const inFlight = store.outbox.archiveHead(10).map((r) => r.id);
    store.outbox.addRead(read("a", 9), 1);
    store.outbox.settle(inFlight);
    expect(store.outbox.archiveHead(10).map((r) => (r.payload as { read_seq: number }).read_seq)).toEqual([9]);
  });
});

describe("refused rows", () => {
  it("hold only their own messages: the hot tail behind a refused batch is pruned as usual", () => {
    const { store, send } = room();
    send(5, 1000);
    store.outbox.park(store.outbox.archiveHead(5).map((r) => r.id)); // seqs 1-5 refused
    send(30, 2000);
    store.outbox.settle(store.outbox.archiveHead(100).map((r) => r.id)); // 6-35 archived
    store.messages.prune(3000, settings);
    // seqs 6..25 are beyond the 10 newest and archived: gone; the refused 1-5 stay for an operator
    const left = store.messages.page(ROOM, 0, { after_seq: 0, limit: 100 }).messages.map((m) => m.seq);
    expect(left).toEqual([1, 2, 3, 4, 5, ...Array.from({ length: 10 }, (_, i) => 26 + i)]);
  });

  it("leave after their time, and beyond the newest refusedOutboxMax, loudly", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { store, send } = room();
    send(80, 1000);
    store.outbox.park(store.outbox.archiveHead(100).map((r) => r.id));
    store.messages.prune(2000, settings);
    expect(store.outbox.counts()).toEqual({ refused_message: 50 });
    expect(error).toHaveBeenCalledTimes(1);
    store.messages.prune(1000 + 7 * DAY + 1, settings);
    expect(store.outbox.counts()).toEqual({});
    // and their messages follow the hot tail's bounds again
    expect(store.messages.oldestSeq()).toBe(71);
    error.mockRestore();
  });
});
