// The edit/delete write path over the room's own store on a real SQLite (no runtime): store, then
// frames; dedupe by op_id; refusals that change nothing.
import { describe, expect, it, vi } from "vitest";
import type { Message, ServerFrame } from "../../protocol/index.js";
import { roomMember } from "../../test/support/room-member.js";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { ChangeApplier } from "./change-applier.js";
import type { ChangeTarget } from "./message-changes.js";
import { RoomStore } from "./store.js";

const ROOM = "00000000-0000-4000-8000-00000000000a";
const member = roomMember;

function room(opts: { failWrite?: boolean; full?: boolean } = {}) {
  const store = new RoomStore(memorySql());
  store.setMeta({ room_id: ROOM, type: "group", version: 1, active: true, last_seq: 0 });
  const log: string[] = [];
  const framesTo = new Map<WebSocket, ServerFrame[]>();
  const to = (ws: WebSocket, frame: ServerFrame) => framesTo.set(ws, [...(framesTo.get(ws) ?? []), frame]);
  const changed: Array<{ message: Message; before: ChangeTarget }> = [];
  let now = 5000;
  const applier = new ChangeApplier({
    meta: () => store.meta(),
    transaction: (fn) => {
      log.push("begin");
      const out = fn();
      log.push("commit");
      return out;
    },
    appliedOp: (u, op) => store.messages.appliedOp(u, op),
    target: (seq) => store.messages.changeTarget(seq),
    rev: () => store.rev(),
    write: (userId, frame, columns, at) => {
      if (opts.failWrite) throw new Error("disk full");
      const m = store.messages.writeChange(ROOM, userId, frame.op_id, frame.seq, columns, at);
      store.setRev(columns.rev);
      log.push(`stored rev ${columns.rev}`);
      return m;
    },
    storageFull: () => opts.full ?? false,
    broadcast: (frame) => log.push(`broadcast ${JSON.parse(frame).type} ${JSON.parse(frame).rev}`),
    send: (ws, frame) => (log.push(`send ${frame.type}`), to(ws, frame)),
    refuse: (ws, frame) => (log.push(`refuse ${frame.type}`), to(ws, frame)),
    changed: (_m, message, before) => void changed.push({ message, before }),
    clock: () => now,
  });
  const ids = new TimeUuidGenerator();
  const send = (sender_id: string, body: string) =>
    store.messages.commitSends(
      ROOM,
      [{ sender_id, frame: { type: "send", room_id: ROOM, client_message_id: `c-${body}`, body } }],
      1000,
      ids,
      store.meta()!.last_seq,
    );
  return { store, applier, log, framesTo, changed, send, setNow: (t: number) => void (now = t) };
}

const edit = (seq: number, op_id: string, body = "edited") => ({
  type: "edit" as const,
  room_id: ROOM,
  seq,
  op_id,
  body,
});
const del = (seq: number, op_id: string) => ({ type: "delete" as const, room_id: ROOM, seq, op_id });

describe("ChangeApplier", () => {
  it("stores the change, then broadcasts the update, then acks, with the room's next rev", () => {
    const r = room();
    r.send("a", "one");
    r.send("a", "two");
    const ws = {} as WebSocket;
    r.applier.apply(ws, member("a"), edit(1, "op-1"));
    expect(r.log).toEqual(["begin", "stored rev 1", "commit", "broadcast update 1", "send op_ack"]);
    expect(r.framesTo.get(ws)).toEqual([{ type: "op_ack", room_id: ROOM, op_id: "op-1", seq: 1, rev: 1 }]);
    expect(r.changed.map((c) => [c.message.body, c.message.status, c.before.status])).toEqual([
      ["edited", "edited", null],
    ]);
    r.applier.apply(ws, member("a"), del(2, "op-2"));
    expect(r.store.rev()).toBe(2);
    expect(r.store.messages.message(ROOM, 2)).toMatchObject({ body: "", status: "deleted", rev: 2 });
    // edits never take a seq
    expect(r.store.meta()!.last_seq).toBe(2);
  });

  it("answers a retried op_id with its first op_ack, duplicate, and changes nothing", () => {
    const r = room();
    r.send("a", "one");
    const ws = {} as WebSocket;
    r.applier.apply(ws, member("a"), edit(1, "op-1", "first"));
    r.setNow(9000);
    // the retry may even say something else: the op it names was applied once, as it first came
    r.applier.apply(ws, member("a"), edit(1, "op-1", "second"));
    expect(r.framesTo.get(ws)!.at(-1)).toEqual({
      type: "op_ack",
      room_id: ROOM,
      op_id: "op-1",
      seq: 1,
      rev: 1,
      duplicate: true,
    });
    expect(r.log.filter((l) => l.startsWith("broadcast"))).toHaveLength(1);
    expect(r.store.messages.message(ROOM, 1)).toMatchObject({ body: "first", rev: 1 });
    expect(r.store.rev()).toBe(1);
    expect(r.changed).toHaveLength(1);
  });

  it("refuses what the rules refuse with an error naming the op, and stores nothing", () => {
    const r = room();
    r.send("a", "one");
    const ws = {} as WebSocket;
    r.applier.apply(ws, member("b"), edit(1, "op-b"));
    r.applier.apply(ws, member("b"), del(1, "op-b2"));
    r.applier.apply(ws, member("a"), edit(7, "op-a"));
    r.applier.apply(ws, member("b", { role: "admin" }), del(1, "op-admin"));
    r.applier.apply(ws, member("a"), edit(1, "op-late"));
    expect(r.framesTo.get(ws)!.map((f) => (f.type === "error" ? `${f.code} ${f.ref}` : f.type))).toEqual([
      "forbidden op-b",
      "forbidden op-b2",
      "not_found op-a",
      "op_ack",
      "conflict op-late",
    ]);
    expect(r.store.rev()).toBe(1);
    // a refused op is not remembered: the same op_id may be used once it can apply
    expect(r.store.messages.appliedOp("b", "op-b")).toBeNull();
  });

  it("acks nothing when the write fails or the storage is full", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const opts of [{ failWrite: true }, { full: true }]) {
      const r = room(opts);
      r.send("a", "one");
      const ws = {} as WebSocket;
      r.applier.apply(ws, member("a"), edit(1, "op-1"));
      expect(r.framesTo.get(ws)).toEqual([
        expect.objectContaining({ type: "error", code: "unavailable", ref: "op-1" }),
      ]);
      expect(r.log.some((l) => l.startsWith("broadcast") || l === "send op_ack")).toBe(false);
      expect(r.store.messages.message(ROOM, 1)).not.toHaveProperty("status");
    }
  });

  it("keeps versions of one message in time order even when the clock does not move", () => {
    const r = room();
    r.send("a", "one");
    r.setNow(1000); // the message's own instant
    const ws = {} as WebSocket;
    r.applier.apply(ws, member("a"), edit(1, "op-1", "v1"));
    r.applier.apply(ws, member("a"), edit(1, "op-2", "v2"));
    const times = r.changed.map((c) => Date.parse(c.message.updated_at!));
    expect(times).toEqual([1001, 1002]);
  });
});
