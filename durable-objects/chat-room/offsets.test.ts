import { describe, expect, it } from "vitest";
import { Offsets } from "./offsets.js";
import type { RoomMeta } from "./store.js";

const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 10, last_activity: 0 };

function fake() {
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

  it("records a member who held a stream as caught up to the last seq, and ignores non-members", () => {
    const { offsets, log } = fake();
    offsets.caughtUp("a");
    offsets.caughtUp("z");
    expect(log).toEqual(["delivered a 10"]);
  });
});
