import { describe, expect, it } from "vitest";
import type { Message } from "../../protocol/index.js";
import { replayFrames } from "./replay.js";

const ROOM = "r";
const msg = (seq: number): Message => ({
  room_id: ROOM,
  seq,
  message_id: `m${seq}`,
  sender_id: "u",
  client_message_id: `c${seq}`,
  body: `b${seq}`,
  mentions: [],
  mention_all: false,
  created_at: new Date(0).toISOString(),
});

/** a hot tail holding seqs [oldest, last]; replay as MessageStore.replay answers it */
function hotTail(oldest: number, last: number) {
  const seqs = last >= oldest ? Array.from({ length: last - oldest + 1 }, (_, i) => oldest + i) : [];
  return {
    meta: { room_id: ROOM, last_seq: last },
    store: {
      replay(_room: string, after: number, max: number) {
        const newer = seqs.filter((s) => s > after);
        return { messages: newer.slice(-max).map(msg), hasMore: newer.length > max };
      },
    },
  };
}

const synced = (r: ReturnType<typeof replayFrames>) => r.synced as { has_more: boolean; last_seq: number };
const seqsOf = (r: ReturnType<typeof replayFrames>) => r.messages.map((m) => m.seq);

describe("replayFrames", () => {
  it("says has_more when the hot tail was pruned past after_seq (only the archive holds the gap)", () => {
    const { store, meta } = hotTail(56, 60); // 1..55 left the hot tail
    const r = replayFrames(store, meta, { joined_seq: 0 }, 10, 500);
    expect(seqsOf(r)).toEqual([56, 57, 58, 59, 60]);
    expect(synced(r)).toMatchObject({ last_seq: 60, has_more: true });
  });

  it("says nothing more when the replay starts right after after_seq", () => {
    const { store, meta } = hotTail(56, 60);
    expect(synced(replayFrames(store, meta, { joined_seq: 0 }, 55, 500)).has_more).toBe(false);
    expect(synced(replayFrames(store, meta, { joined_seq: 0 }, 58, 500)).has_more).toBe(false);
    expect(seqsOf(replayFrames(store, meta, { joined_seq: 0 }, 60, 500))).toEqual([]);
    expect(synced(replayFrames(store, meta, { joined_seq: 0 }, 60, 500)).has_more).toBe(false);
  });

  it("says has_more when the replay bound left older messages out", () => {
    const { store, meta } = hotTail(1, 30);
    const r = replayFrames(store, meta, { joined_seq: 0 }, 0, 10);
    expect(seqsOf(r)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect(synced(r).has_more).toBe(true);
  });

  it("says has_more when the hot tail is empty but the room has messages (it lost its storage)", () => {
    const { store, meta } = hotTail(1, 0);
    const lost = { ...meta, last_seq: 40 };
    const r = replayFrames(store, lost, { joined_seq: 0 }, 12, 500);
    expect(seqsOf(r)).toEqual([]);
    expect(synced(r)).toMatchObject({ last_seq: 40, has_more: true });
    expect(synced(replayFrames(store, lost, { joined_seq: 0 }, 40, 500)).has_more).toBe(false);
  });

  it("starts at the member's joined_seq: nothing before it counts as missing", () => {
    const { store, meta } = hotTail(56, 60);
    expect(synced(replayFrames(store, meta, { joined_seq: 55 }, 0, 500)).has_more).toBe(false);
    expect(synced(replayFrames(store, meta, { joined_seq: 50 }, 0, 500)).has_more).toBe(true);
    // a garbage after_seq reads as 0
    expect(synced(replayFrames(store, meta, { joined_seq: 55 }, Number.NaN, 500)).has_more).toBe(false);
  });
});
