import { describe, expect, it } from "vitest";
import { MAX_REPLAY, type Message } from "../../protocol/index.js";
import { TokenBucket } from "../shared/token-bucket.js";
import type { MemberState } from "./members.js";
import { REPLAY_PAGE_ROWS, planReplay, replayInto, type ReplaySource } from "./replay.js";
import type { RoomMeta } from "./store.js";

const sizes = (seqs: number[], bytes = 100) => seqs.map((seq) => ({ seq, bytes }));

describe("planReplay", () => {
  it("takes the newest messages up to the count, and says when older ones were left out", () => {
    expect(planReplay(sizes([5, 4, 3]), 500, Infinity)).toEqual({
      fromSeq: 3,
      toSeq: 5,
      count: 3,
      bytes: 300,
      hasMore: false,
    });
    expect(planReplay(sizes([5, 4, 3]), 2, Infinity)).toMatchObject({ fromSeq: 4, toSeq: 5, count: 2, hasMore: true });
  });

  it("stops at the byte allowance, newest first, and may replay nothing", () => {
    expect(planReplay(sizes([9, 8, 7, 6]), 500, 250)).toMatchObject({ fromSeq: 8, toSeq: 9, count: 2, hasMore: true });
    expect(planReplay(sizes([9]), 500, 50)).toMatchObject({ count: 0, bytes: 0, hasMore: true });
    expect(planReplay([], 500, 0)).toMatchObject({ count: 0, hasMore: false });
  });
});

/** A room of `n` messages of `bytes` each; counts what replay reads at once. */
function source(n: number, bytes: number) {
  const reads = { sizes: 0, pages: [] as number[] };
  const msg = (seq: number): Message => ({
    room_id: "r",
    seq,
    message_id: `m${seq}`,
    sender_id: "u",
    client_message_id: `c${seq}`,
    body: "x",
    mentions: [],
    mention_all: false,
    created_at: new Date(0).toISOString(),
  });
  const src: ReplaySource = {
    replaySizes: (after, limit) => {
      reads.sizes++;
      const out = [];
      for (let s = n; s > after && out.length < limit; s--) out.push({ seq: s, bytes });
      return out;
    },
    replayPage: (_room, from, to, limit) => {
      const out = [];
      for (let s = from; s <= Math.min(to, n) && out.length < limit; s++) out.push(msg(s));
      reads.pages.push(out.length);
      return out;
    },
  };
  return { src, reads };
}

const meta = (lastSeq: number): RoomMeta => ({
  room_id: "r",
  type: "group",
  version: 1,
  active: true,
  last_seq: lastSeq,
  last_activity: 0,
});
const member = (joined = 0) => ({ user_id: "u", joined_seq: joined }) as MemberState;
const socket = () => {
  const sent: Array<Record<string, unknown>> = [];
  return { sent, send: (d: string) => void sent.push(JSON.parse(d) as Record<string, unknown>) };
};

describe("replayInto", () => {
  it("sends the newest 500 in seq order a page at a time, then synced", () => {
    const { src, reads } = source(700, 1000);
    const ws = socket();
    const budget = new TokenBucket({ perSecond: 1, burst: 10_000_000 }, 0);
    replayInto(ws, src, meta(700), member(), 0, budget, 0);
    const seqs = ws.sent.filter((f) => f.type === "message").map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: MAX_REPLAY }, (_, i) => 201 + i));
    expect(ws.sent.at(-1)).toEqual({ type: "synced", room_id: "r", last_seq: 700, has_more: true });
    expect(Math.max(...reads.pages)).toBeLessThanOrEqual(REPLAY_PAGE_ROWS);
  });

  it("never replays before the member joined", () => {
    const { src } = source(10, 10);
    const ws = socket();
    replayInto(ws, src, meta(10), member(7), 2, new TokenBucket({ perSecond: 1, burst: 1e9 }, 0), 0);
    expect(ws.sent.filter((f) => f.type === "message").map((f) => f.seq)).toEqual([8, 9, 10]);
    expect(ws.sent.at(-1)).toMatchObject({ has_more: false });
  });

  it("shares one byte budget across opens: 200 opens of 500 large messages write a bounded total", () => {
    const { src } = source(500, 40_000); // 20 MB per full replay
    const budget = new TokenBucket({ perSecond: 8 * 1024 * 1024, burst: 32 * 1024 * 1024 }, 0);
    let bytes = 0;
    let cut = 0;
    for (let i = 0; i < 200; i++) {
      const ws = socket();
      const plan = replayInto(ws, src, meta(500), member(), 0, budget, 0);
      bytes += plan.bytes;
      const got = ws.sent.filter((f) => f.type === "message");
      // whatever was cut, what arrives is the newest messages in order, and synced says so
      if (got.length) expect(got.at(-1)!.seq).toBe(500);
      if (plan.hasMore) cut++;
      expect(ws.sent.at(-1)).toMatchObject({ type: "synced", has_more: got.length < 500 });
    }
    expect(bytes).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(cut).toBeGreaterThanOrEqual(199);
    // a second later the budget has refilled by its rate: the next open gets that much
    const ws = socket();
    const plan = replayInto(ws, src, meta(500), member(), 0, budget, 1000);
    expect(plan.bytes).toBeGreaterThan(7 * 1024 * 1024);
    expect(plan.bytes).toBeLessThanOrEqual(8 * 1024 * 1024 + 40_000);
  });
});

/** the sizes a hot tail holding seqs [oldest, last] answers for a resume after `after` */
function tailSizes(oldest: number, last: number, after: number, limit: number) {
  const out = [];
  for (let s = last; s >= Math.max(oldest, after + 1) && out.length < limit; s--) out.push({ seq: s, bytes: 100 });
  return out;
}
const resume = (oldest: number, last: number, after: number, max = 500) =>
  planReplay(tailSizes(oldest, last, after, max + 1), max, Infinity, { afterSeq: after, lastSeq: last });

describe("planReplay: has_more when the replay does not start right after after_seq", () => {
  it("says has_more when the hot tail was pruned past after_seq (only the archive holds the gap)", () => {
    expect(resume(56, 60, 10)).toMatchObject({ fromSeq: 56, toSeq: 60, count: 5, hasMore: true });
  });

  it("says nothing more when the replay starts right after after_seq", () => {
    expect(resume(56, 60, 55).hasMore).toBe(false);
    expect(resume(56, 60, 58).hasMore).toBe(false);
    expect(resume(56, 60, 60)).toMatchObject({ count: 0, hasMore: false });
  });

  it("says has_more when the replay bound left older messages out", () => {
    expect(resume(1, 30, 0, 10)).toMatchObject({ fromSeq: 21, toSeq: 30, hasMore: true });
  });

  it("says has_more when the hot tail is empty but the room has messages (it lost its storage)", () => {
    const lost = (after: number) => planReplay([], 500, Infinity, { afterSeq: after, lastSeq: 40 });
    expect(lost(12)).toMatchObject({ count: 0, hasMore: true });
    expect(lost(40).hasMore).toBe(false);
  });
});
