// What the room keeps, bounded: read rows, refused rows, the hot tail behind a refused batch, and
// the push outbox (a row per message, reads per member, a day at most).
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

describe("push rows", () => {
  it("queue a message once while it waits in no batch, and read offsets at most twice per member", () => {
    const { store } = room();
    for (let i = 0; i < 5; i++) store.outbox.addPush(1, i);
    expect(store.outbox.counts()).toEqual({ push: 1 });
    for (let seq = 1; seq <= 300; seq++)
      store.outbox.addPushRead({ user_id: ["a", "b", "c"][seq % 3]!, read_seq: seq }, seq);
    expect(store.outbox.counts()).toEqual({ push: 1, push_read: 3 });
    // a batch took them: newer ones wait beside them (one each), the batch keeps its own
    store.outbox.claimPush();
    store.outbox.addPush(1, 10);
    for (let seq = 301; seq <= 600; seq++)
      store.outbox.addPushRead({ user_id: ["a", "b", "c"][seq % 3]!, read_seq: seq }, seq);
    expect(store.outbox.counts()).toEqual({ push: 2, push_read: 6 });
    expect(
      store.outbox
        .pushRows(Number.MAX_SAFE_INTEGER)
        .reads.map((r) => r.read_seq)
        .sort((x, y) => x - y),
    ).toEqual([298, 299, 300, 598, 599, 600]);
  });

  it("leave after the push TTL (they are counted in storage like every row), refused ones by the refused bounds", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { store, send } = room();
    send(60, 1000);
    for (let seq = 1; seq <= 60; seq++) store.outbox.addPush(seq, 1000);
    store.outbox.addPushRead({ user_id: "b", read_seq: 3 }, 1000);
    store.outbox.parkPush(store.outbox.claimPush()!.cut);
    send(5, 2000);
    for (let seq = 61; seq <= 65; seq++) store.outbox.addPush(seq, 2000);
    store.outbox.addPushRead({ user_id: "b", read_seq: 61 }, 2000);
    const ttl = { ...settings, pushOutboxTtlMs: DAY, hotTailMaxMessages: 100_000 };
    store.messages.prune(2000 + DAY - 1, ttl);
    // refused rows of every kind together: the newest refusedOutboxMax (50)
    expect(store.outbox.counts()).toMatchObject({ push: 5, push_read: 1, refused_push: 49, refused_push_read: 1 });
    store.messages.prune(2000 + DAY, ttl);
    expect(store.outbox.counts()).toMatchObject({ refused_push: 49, refused_push_read: 1 });
    expect(store.outbox.counts().push).toBeUndefined();
    expect(store.outbox.counts().push_read).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/dropped 6 push rows/));
    expect(error).toHaveBeenCalled();
    warn.mockRestore();
    error.mockRestore();
  });

  it("keep the messages they wait for in the hot tail (their preview is read at the flush)", () => {
    const { store, send } = room();
    send(30, 1000);
    store.outbox.settle(store.outbox.archiveHead(100).map((r) => r.id)); // all archived
    store.outbox.addPush(12, 1000);
    store.messages.prune(3000, settings);
    expect(store.messages.oldestSeq()).toBe(12);
    store.outbox.settlePush(store.outbox.claimPush()!.cut);
    store.messages.prune(3000, settings);
    expect(store.messages.oldestSeq()).toBe(21);
  });
});

describe("a member's push state", () => {
  it("is stored: muted and hidden from the snapshot, what they were pushed, and the group's name", () => {
    const { store } = room();
    const snapshot = {
      room_id: ROOM,
      version: 2,
      type: "group" as const,
      active: true,
      name: "the team",
      members: [{ user_id: "a", role: "member" as const, can_send: true, joined_at: "t", muted: true }],
      blocks: [],
    };
    const a = {
      user_id: "a",
      role: "member",
      can_send: true,
      joined_at: "t",
      joined_seq: 0,
      read_seq: 0,
      delivered_seq: 0,
      subscribed: false,
      muted: true,
    };
    store.applyMembership({ upserts: [a], removed: [] }, snapshot, 0, null);
    expect(store.meta()!.name).toBe("the team");
    expect(store.member("a")).toMatchObject({ muted: true, hidden: false, pushed_seq: 0 });
    store.markPushed(["a"], 7);
    store.markPushed(["a"], 5); // never back
    // a later change of settings keeps what they were pushed
    store.upsertMember({ ...a, muted: false, hidden: true });
    expect(store.members()[0]).toMatchObject({ muted: false, hidden: true, pushed_seq: 7 });
    store.applyMembership({ upserts: [], removed: [] }, { ...snapshot, name: null }, 0, null);
    expect(store.meta()!.name).toBeNull();
  });
});
