import { describe, expect, it } from "vitest";
import type { Message, ServerFrame } from "../../protocol/index.js";
import { roomMember } from "../../test/support/room-member.js";
import { SendBatcher, type QueuedSend } from "./send-batcher.js";
import type { RoomMeta } from "./store.js";

const member = (user_id: string) => roomMember(user_id);

function fakeRoom(opts: { failCommit?: boolean; members?: string[]; full?: boolean } = {}) {
  const log: string[] = [];
  const turns: Array<() => void> = [];
  const framesTo = new Map<WebSocket, ServerFrame[]>();
  let meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 0, last_activity: 0 };
  const seen = new Map<string, number>();
  const batcher = new SendBatcher<string, string>({
    meta: () => meta,
    members: () => (opts.members ?? ["a", "b"]).map(member),
    isMember: (id) => (opts.members ?? ["a", "b"]).includes(id),
    transaction: (fn) => {
      log.push("begin");
      const out = fn();
      log.push("commit");
      return out;
    },
    commitSends: (m, sends) => {
      if (opts.failCommit) throw new Error("disk full");
      let seq = m.last_seq;
      const results = sends.map((s) => {
        const key = `${s.sender_id}/${s.frame.client_message_id}`;
        const dup = seen.get(key);
        if (dup !== undefined) {
          return {
            sender_id: s.sender_id,
            client_message_id: s.frame.client_message_id,
            seq: dup,
            message_id: "x",
            created_at: "",
            duplicate: true,
          };
        }
        seen.set(key, ++seq);
        const message = { room_id: "r", seq, sender_id: s.sender_id, body: s.frame.body } as Message;
        return {
          sender_id: s.sender_id,
          client_message_id: s.frame.client_message_id,
          seq,
          message_id: "x",
          created_at: "",
          duplicate: false,
          message,
        };
      });
      log.push(`stored ${sends.length}`);
      meta = { ...meta, last_seq: seq };
      return { results, lastSeq: seq };
    },
    planFanout: (_m, stored) => `plan of ${stored.length}`,
    sendersRead: (stored, before) => {
      log.push(`read by ${[...new Set(stored.map((m) => m.sender_id))].join()} after ${before}`);
      return "reads";
    },
    deliver: (messages, acks) => {
      for (const frame of messages) log.push(`broadcast ${JSON.parse(frame).seq}`);
      for (const [ws, frames] of acks)
        framesTo.set(ws, [...(framesTo.get(ws) ?? []), ...frames.map((f) => JSON.parse(f))]);
    },
    refuse: (ws, frame) => framesTo.set(ws, [...(framesTo.get(ws) ?? []), frame]),
    committed: (_m, plan, reads, stored, lastSeq) =>
      log.push(`committed ${plan} and ${reads} up to ${lastSeq} (${stored.length})`),
    storageFull: () => opts.full ?? false,
    nextTurn: (fn) => turns.push(fn),
    clock: () => 1000,
  });
  const turn = () => turns.splice(0).forEach((fn) => fn());
  return { batcher, log, turn, framesTo };
}
const send = (sender_id: string, id: string): QueuedSend => ({
  ws: {} as WebSocket,
  sender_id,
  frame: { type: "send", room_id: "r", client_message_id: id, body: `hi ${id}` },
});

describe("SendBatcher", () => {
  it("commits the sends of one turn in one transaction, then broadcasts and acks each after it", async () => {
    const { batcher, log, turn, framesTo } = fakeRoom();
    const sends = [send("a", "1"), send("b", "1"), send("a", "2")];
    const done = sends.map((s) => batcher.enqueue(s));
    turn();
    await Promise.all(done);
    expect(log).toEqual([
      "begin",
      "stored 3",
      "read by a,b after 0",
      "commit",
      "broadcast 1",
      "broadcast 2",
      "broadcast 3",
      "committed plan of 3 and reads up to 3 (3)",
    ]);
    expect(sends.map((s) => framesTo.get(s.ws)?.[0])).toMatchObject([
      { type: "ack", seq: 1, client_message_id: "1" },
      { type: "ack", seq: 2 },
      { type: "ack", seq: 3, client_message_id: "2" },
    ]);
  });

  it("answers a retry with the original ack and broadcasts nothing for it", async () => {
    const { batcher, log, turn, framesTo } = fakeRoom();
    const first = send("a", "1");
    const p = batcher.enqueue(first);
    turn();
    await p;
    const retry = send("a", "1");
    const q = batcher.enqueue(retry);
    turn();
    await q;
    expect(framesTo.get(retry.ws)).toEqual([expect.objectContaining({ type: "ack", seq: 1, duplicate: true })]);
    expect(log.filter((l) => l.startsWith("broadcast"))).toEqual(["broadcast 1"]);
    expect(log.at(-1)).toBe("commit"); // nothing new stored: no fan-out
  });

  it("refuses the send of someone who left while it waited, and stores the rest", async () => {
    const { batcher, turn, framesTo } = fakeRoom({ members: ["a"] });
    const gone = send("z", "1");
    const p = [batcher.enqueue(gone), batcher.enqueue(send("a", "1"))];
    turn();
    await Promise.all(p);
    expect(framesTo.get(gone.ws)).toEqual([expect.objectContaining({ type: "error", code: "forbidden" })]);
  });

  it("acks nothing when the commit fails: every send of the batch hears `unavailable`", async () => {
    const { batcher, log, turn, framesTo } = fakeRoom({ failCommit: true });
    const sends = [send("a", "1"), send("b", "1")];
    const p = sends.map((s) => batcher.enqueue(s));
    turn();
    await Promise.all(p);
    expect(sends.map((s) => framesTo.get(s.ws))).toEqual([
      [expect.objectContaining({ type: "error", code: "unavailable", ref: "1" })],
      [expect.objectContaining({ type: "error", code: "unavailable", ref: "1" })],
    ]);
    expect(log.some((l) => l.startsWith("broadcast"))).toBe(false);
  });

  it("refuses every send `unavailable` before any write when the room's storage is at its limit", async () => {
    const { batcher, log, turn, framesTo } = fakeRoom({ full: true });
    const sends = [send("a", "1"), send("b", "2")];
    const p = sends.map((s) => batcher.enqueue(s));
    turn();
    await Promise.all(p);
    expect(log).toEqual([]); // no transaction was even begun
    expect(sends.map((s) => framesTo.get(s.ws))).toEqual([
      [expect.objectContaining({ type: "error", code: "unavailable", ref: "1" })],
      [expect.objectContaining({ type: "error", code: "unavailable", ref: "2" })],
    ]);
    expect((framesTo.get(sends[0]!.ws)![0] as { message: string }).message).toMatch(/storage is full/);
  });
});
