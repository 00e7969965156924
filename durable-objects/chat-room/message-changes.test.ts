// The rules of edits and deletes (pure), and how the room's store keeps them, against a real
// SQLite (test/support/sqlite-storage.ts).
import { describe, expect, it } from "vitest";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { REALTIME_DEFAULTS } from "../shared/config.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { changedColumns, changeTime, decideChange, type ChangeTarget } from "./message-changes.js";
import type { MemberState } from "./members.js";
import { RoomStore } from "./store.js";

const actor = (user_id: string, over: Partial<MemberState> = {}) => ({
  user_id,
  role: "member",
  joined_seq: 0,
  ...over,
});
const target = (over: Partial<ChangeTarget> = {}): ChangeTarget => ({
  seq: 5,
  sender_id: "a",
  mentions: [],
  mention_all: false,
  status: null,
  created_at: 1000,
  updated_at: null,
  ...over,
});
const edit = { type: "edit" as const, seq: 5 };
const del = { type: "delete" as const, seq: 5 };

describe("decideChange", () => {
  it("lets a sender edit and delete their own message", () => {
    expect(decideChange(edit, target(), actor("a"), 9)).toBeNull();
    expect(decideChange(del, target(), actor("a"), 9)).toBeNull();
    expect(decideChange(edit, target({ status: "edited" }), actor("a"), 9)).toBeNull();
  });

  it("refuses another member's edit, and their delete unless their role may delete anyone's", () => {
    expect(decideChange(edit, target(), actor("b"), 9)).toMatchObject({ code: "forbidden" });
    expect(decideChange(del, target(), actor("b"), 9)).toMatchObject({ code: "forbidden" });
    expect(decideChange(del, target(), actor("b", { can_delete_any: true }), 9)).toBeNull();
    expect(decideChange(del, target(), actor("b", { role: "admin" }), 9)).toBeNull();
    expect(decideChange(del, target(), actor("b", { role: "owner", can_delete_any: false }), 9)).toMatchObject({
      code: "forbidden",
    });
    // even an owner edits only their own words
    expect(decideChange(edit, target(), actor("b", { role: "owner", can_delete_any: true }), 9)).toMatchObject({
      code: "forbidden",
      message: "you can edit only your own messages",
    });
  });

  it("refuses any change of a deleted message", () => {
    for (const f of [edit, del])
      expect(decideChange(f, target({ status: "deleted" }), actor("a"), 9)).toEqual({
        code: "conflict",
        message: "message 5 was deleted",
      });
  });

  it("finds no message past the last seq, before the actor joined, or that left the hot tail", () => {
    expect(decideChange({ type: "edit", seq: 10 }, null, actor("a"), 9)).toMatchObject({ code: "not_found" });
    expect(decideChange(edit, target(), actor("a", { joined_seq: 5 }), 9)).toMatchObject({
      code: "not_found",
      message: "no message 5 in this room",
    });
    expect(decideChange(edit, null, actor("a"), 9)?.message).toMatch(/no longer in this room's recent history/);
  });
});

describe("changeTime", () => {
  it("is now, but always after the previous version", () => {
    expect(changeTime(5000, target())).toBe(5000);
    expect(changeTime(1000, target())).toBe(1001);
    expect(changeTime(3000, target({ updated_at: 3000 }))).toBe(3001);
  });
});

describe("changedColumns", () => {
  it("an edit changes the body only; a delete empties it and clears mentions and attachments", () => {
    const frame = { type: "edit" as const, room_id: "r", seq: 5, op_id: "o", body: "new" };
    expect(changedColumns(frame, 7, 99)).toEqual({
      status: "edited",
      body: "new",
      clears: false,
      updated_at: 99,
      rev: 7,
    });
    expect(changedColumns({ type: "delete", room_id: "r", seq: 5, op_id: "o" }, 8, 100)).toEqual({
      status: "deleted",
      body: "",
      clears: true,
      updated_at: 100,
      rev: 8,
    });
  });
});

const ROOM = "00000000-0000-4000-8000-00000000000a";

function room() {
  const store = new RoomStore(memorySql());
  store.setMeta({ room_id: ROOM, type: "group", version: 1, active: true, last_seq: 0 });
  const ids = new TimeUuidGenerator();
  const send = (client_message_id: string, now: number) =>
    store.messages.commitSends(
      ROOM,
      [
        {
          sender_id: "a",
          frame: {
            type: "send",
            room_id: ROOM,
            client_message_id,
            body: `body of ${client_message_id}`,
            mentions: ["b"],
            mention_all: true,
            attachments: [{ id: "f", url: "https://x.test/f", mime: "image/png", size: 1, name: "f.png" }],
          },
        },
      ],
      now,
      ids,
      store.meta()!.last_seq,
    ).results[0]!;
  return { store, send };
}

describe("the store's changes", () => {
  it("keeps an edit's new body with the message's mentions and attachments, its status, time and rev", () => {
    const { store, send } = room();
    send("c1", 1000);
    const target = store.messages.changeTarget(1)!;
    expect(target).toEqual({
      seq: 1,
      sender_id: "a",
      mentions: ["b"],
      mention_all: true,
      status: null,
      created_at: 1000,
      updated_at: null,
    });
    const frame = { type: "edit" as const, room_id: ROOM, seq: 1, op_id: "op-1", body: "fixed" };
    const m = store.messages.writeChange(ROOM, "a", "op-1", 1, changedColumns(frame, 1, 2000), 2000);
    expect(m).toMatchObject({
      seq: 1,
      body: "fixed",
      mentions: ["b"],
      mention_all: true,
      status: "edited",
      updated_at: new Date(2000).toISOString(),
      rev: 1,
    });
    expect(m.attachments).toHaveLength(1);
    // every reader sees the same version: history pages, replay, the latest message
    expect(store.messages.message(ROOM, 1)).toEqual(m);
    expect(store.messages.page(ROOM, 0, { limit: 10 }).messages).toEqual([m]);
    expect(store.messages.replayPage(ROOM, 1, 1, 10)).toEqual([m]);
    expect(store.messages.appliedOp("a", "op-1")).toEqual({ seq: 1, rev: 1 });
    expect(store.messages.appliedOp("b", "op-1")).toBeNull();
    // the archive hears of the new version through the same outbox as the message itself
    expect(store.outbox.counts()).toEqual({ message: 2 });
  });

  it("leaves a deleted message its place and nothing else, and never takes a seq", () => {
    const { store, send } = room();
    send("c1", 1000);
    send("c2", 1000);
    const frame = { type: "delete" as const, room_id: ROOM, seq: 1, op_id: "op-d" };
    const m = store.messages.writeChange(ROOM, "a", "op-d", 1, changedColumns(frame, 1, 3000), 3000);
    expect(m).toEqual({
      room_id: ROOM,
      seq: 1,
      message_id: m.message_id,
      sender_id: "a",
      client_message_id: "c1",
      body: "",
      mentions: [],
      mention_all: false,
      created_at: new Date(1000).toISOString(),
      status: "deleted",
      updated_at: new Date(3000).toISOString(),
      rev: 1,
    });
    expect(store.meta()!.last_seq).toBe(2);
    expect(store.messages.changeTarget(1)).toMatchObject({ status: "deleted", updated_at: 3000, mentions: [] });
  });

  it("answers the changes after a rev within a seq range, newest first, and pages them oldest first", () => {
    const { store, send } = room();
    for (let i = 1; i <= 5; i++) send(`c${i}`, 1000);
    const change = (seq: number, rev: number) =>
      store.messages.writeChange(
        ROOM,
        "a",
        `op-${rev}`,
        seq,
        changedColumns({ type: "edit", room_id: ROOM, seq, op_id: `op-${rev}`, body: `v${rev}` }, rev, 1000 + rev),
        1000 + rev,
      );
    change(2, 1);
    change(4, 2);
    change(2, 3); // seq 2 again: only its newest state counts
    expect(store.messages.changeSizes(0, 0, 5, 10).map((s) => s.rev)).toEqual([3, 2]);
    expect(store.messages.changeSizes(2, 0, 5, 10).map((s) => s.rev)).toEqual([3]);
    expect(store.messages.changeSizes(0, 0, 3, 10).map((s) => s.rev)).toEqual([3]);
    expect(store.messages.changeSizes(0, 2, 5, 10).map((s) => s.rev)).toEqual([2]);
    expect(store.messages.changeSizes(0, 0, 5, 10)[0]!.bytes).toBeGreaterThan(300);
    expect(store.messages.changePage(ROOM, 1, 3, 0, 5, 10).map((m) => [m.seq, m.body])).toEqual([
      [4, "v2"],
      [2, "v3"],
    ]);
  });

  it("forgets op ids with the send dedupe keys, and keeps the room's rev in its meta", () => {
    const { store, send } = room();
    send("c1", 1000);
    const frame = { type: "edit" as const, room_id: ROOM, seq: 1, op_id: "op-1", body: "x" };
    store.messages.writeChange(ROOM, "a", "op-1", 1, changedColumns(frame, 1, 2000), 2000);
    store.setRev(1);
    expect(store.rev()).toBe(1);
    const settings = { ...REALTIME_DEFAULTS, dedupeMs: 10_000 };
    store.messages.prune(2000 + 9_999, settings);
    expect(store.messages.appliedOp("a", "op-1")).not.toBeNull();
    store.messages.prune(2000 + 10_000, settings);
    expect(store.messages.appliedOp("a", "op-1")).toBeNull();
    expect(store.rev()).toBe(1);
  });
});
