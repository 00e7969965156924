import { describe, expect, it } from "vitest";
import { Offsets } from "./offsets.js";
import type { RoomMeta } from "./store.js";

const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 10, last_activity: 0 };

function fake(pushedSeq = 0) {
  let readSeq = 0;
  const log: string[] = [];
  const offsets = new Offsets({
    meta: () => meta,
    transaction: (fn) => {
      log.push("tx");
      return fn();
    },
    markRead: (_u, seq, last) => {
      const to = Math.min(seq, last);
      if (to <= readSeq) return null;
      return (readSeq = to);
    },
    markDelivered: (users, seq) => void log.push(`delivered ${users.join()} ${seq}`),
    isMember: (u) => u === "a",
    addReadRow: (p) => void log.push(`outbox read ${p.read_seq}`),
    outboxNoted: () => void log.push("outbox noted"),
    pushState: (u) => (u === "a" ? { read_seq: readSeq, pushed_seq: pushedSeq } : null),
    addPushReadRow: (p) => void log.push(`push read ${p.user_id} ${p.read_seq}`),
    pushNoted: () => void log.push("push noted"),
    receipts: { read: (u, s) => void log.push(`receipt ${u} ${s}`) },
    readSync: async (u, _r, s, from) => void log.push(`read_sync ${u} ${s} except ${from}`),
    waitUntil: () => {},
    clock: () => 0,
  });
  return { offsets, log };
}

describe("Offsets", () => {
  it("moves read_seq forward only, clamped to the last seq, with one outbox row, a receipt and a read_sync", () => {
    const { offsets, log } = fake();
    offsets.read("a", "phone", 99);
    expect(log).toEqual(["tx", "outbox read 10", "outbox noted", "receipt a 10", "read_sync a 10 except phone"]);
    log.length = 0;
    offsets.read("a", "phone", 4); // backwards: nothing moves, nobody hears
    expect(log).toEqual(["tx"]);
  });

  it("tells the relay of a read only while it holds notifications of the reader's that the read covers", () => {
    const { offsets, log } = fake(6);
    offsets.read("a", "phone", 3);
    expect(log).toEqual([
      "tx",
      "outbox read 3",
      "push read a 3",
      "outbox noted",
      "push noted",
      "receipt a 3",
      "read_sync a 3 except phone",
    ]);
    log.length = 0;
    offsets.read("a", "phone", 8); // 3 < 6: still some to mark read
    expect(log).toContain("push read a 8");
    log.length = 0;
    offsets.read("a", "phone", 9); // pushed up to 6, read up to 8: the relay has nothing unread here
    expect(log.filter((l) => l.startsWith("push"))).toEqual([]);
    expect(log).toContain("outbox read 9");
  });

  it("records a member who held a stream as caught up to the last seq, and ignores non-members", () => {
    const { offsets, log } = fake();
    offsets.caughtUp("a");
    offsets.caughtUp("z");
    expect(log).toEqual(["delivered a 10"]);
  });
});
