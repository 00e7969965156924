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
    readsMoved: () => void log.push("copy noted"),
    offsetsOf: (u) => (u === "a" ? { read_seq: readSeq, pushed_seq: pushedSeq } : null),
    addPushReadRow: (p) => {
      log.push(`push read ${p.user_id} ${p.read_seq}`);
      return true;
    },
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
    expect(log).toEqual([
      "tx",
      "outbox read 10",
      "outbox noted",
      "copy noted",
      "receipt a 10",
      "read_sync a 10 except phone",
    ]);
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
      "copy noted",
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

  describe("sending is reading", () => {
    const msg = (seq: number, sender_id: string) => ({ seq, sender_id });

    it("moves the sender's read_seq to their newest message, with a receipt when it passed someone else's", () => {
      const { offsets, log } = fake();
      // a had read nothing; 1-10 were others': sending 11 reads them too
      const reads = offsets.sent([msg(11, "a")], 10, 0);
      expect(reads).toEqual({ receipts: [["a", 11]], relay: false });
      expect(log).toEqual(["outbox read 11"]);
      log.length = 0;
      offsets.sentCommitted(reads, 0);
      expect(log).toEqual(["copy noted", "receipt a 11"]);
    });

    it("says nothing to the room when the read passed only the sender's own messages", () => {
      const { offsets, log } = fake();
      offsets.sent([msg(11, "a")], 10, 0);
      log.length = 0;
      // 12 and 13 are a's own, right after what a read
      const reads = offsets.sent([msg(12, "a"), msg(13, "a")], 11, 0);
      expect(reads).toEqual({ receipts: [], relay: false });
      // and no copy for the archive and PostgreSQL: the room holds the read
      expect(log).toEqual([]);
    });

    it("counts a message of someone else's in the same batch as passed", () => {
      const { offsets } = fake();
      offsets.sent([msg(11, "a")], 10, 0);
      // 12 is b's, 13 a's: a has read b's 12 by replying after it
      expect(offsets.sent([msg(12, "b"), msg(13, "a")], 11, 0).receipts).toEqual([["a", 13]]);
    });

    it("clears the notifications the relay holds for the sender", () => {
      const { offsets, log } = fake(6);
      const reads = offsets.sent([msg(11, "a")], 10, 0);
      expect(reads.relay).toBe(true);
      expect(log).toEqual(["outbox read 11", "push read a 11"]);
      log.length = 0;
      offsets.sentCommitted(reads, 0);
      expect(log).toEqual(["copy noted", "push noted", "receipt a 11"]);
    });

    it("moves nothing for a sender who is no member any more, or whose read is already ahead", () => {
      const { offsets, log } = fake();
      expect(offsets.sent([msg(11, "z")], 10, 0)).toEqual({ receipts: [], relay: false });
      offsets.read("a", "phone", 10);
      log.length = 0;
      expect(offsets.sent([msg(9, "a")], 10, 0)).toEqual({ receipts: [], relay: false });
      expect(log).toEqual([]);
    });
  });
});
