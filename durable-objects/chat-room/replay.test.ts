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

/** A room of `n` messages of `bytes` each, `changed` (seq -> rev) of them edited; counts what replay reads at once. */
function source(n: number, bytes: number, changed: ReadonlyMap<number, number> = new Map()) {
  const reads = { sizes: 0, pages: [] as number[], changePages: [] as number[] };
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
    ...(changed.has(seq)
      ? { status: "edited" as const, updated_at: new Date(1).toISOString(), rev: changed.get(seq)! }
      : {}),
  });
  const changes = (afterRev: number, floor: number, maxSeq: number) =>
    [...changed]
      .filter(([seq, rev]) => rev > afterRev && seq > floor && seq <= maxSeq && seq <= n)
      .sort((a, b) => a[1] - b[1]);
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
    changeSizes: (afterRev, floor, maxSeq, limit) =>
      changes(afterRev, floor, maxSeq)
        .reverse()
        .slice(0, limit)
        .map(([, rev]) => ({ rev, bytes })),
    changePage: (_room, fromRev, toRev, floor, maxSeq, limit) => {
      const out = changes(fromRev - 1, floor, maxSeq)
        .filter(([, rev]) => rev <= toRev)
        .slice(0, limit)
        .map(([seq]) => msg(seq));
      reads.changePages.push(out.length);
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
    replayInto(ws, src, meta(700), member(), { afterSeq: 0 }, 0, budget, 0);
    const seqs = ws.sent.filter((f) => f.type === "message").map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: MAX_REPLAY }, (_, i) => 201 + i));
    expect(ws.sent.at(-1)).toEqual({ type: "synced", room_id: "r", last_seq: 700, has_more: true, last_rev: 0 });
    expect(Math.max(...reads.pages)).toBeLessThanOrEqual(REPLAY_PAGE_ROWS);
  });

  it("never replays before the member joined", () => {
    const { src } = source(10, 10);
    const ws = socket();
    replayInto(ws, src, meta(10), member(7), { afterSeq: 2 }, 0, new TokenBucket({ perSecond: 1, burst: 1e9 }, 0), 0);
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
      const plan = replayInto(ws, src, meta(500), member(), { afterSeq: 0 }, 0, budget, 0);
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
    const plan = replayInto(ws, src, meta(500), member(), { afterSeq: 0 }, 0, budget, 1000);
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

describe("replayInto: changes after after_rev", () => {
  const budget = () => new TokenBucket({ perSecond: 1, burst: 1e9 }, 0);
  const frames = (ws: ReturnType<typeof socket>) =>
    ws.sent.map((f) => `${f.type}:${f.type === "update" ? (f.message as Message).seq : (f.seq ?? "")}`);

  it("replays the changes after after_rev to the messages the client holds, in rev order, then synced with last_rev", () => {
    // seqs 2, 4 and 9 were edited (revs 3, 1, 2); the client holds up to seq 8 and rev 1
    const { src } = source(
      10,
      100,
      new Map([
        [2, 3],
        [4, 1],
        [9, 2],
      ]),
    );
    const ws = socket();
    const plan = replayInto(ws, src, meta(10), member(), { afterSeq: 8, afterRev: 1 }, 3, budget(), 0);
    // 9 and 10 arrive as messages (9 in its edited version); 2 as an update; 4 it has already
    expect(frames(ws)).toEqual(["message:9", "message:10", "update:2", "synced:"]);
    expect(ws.sent[1 + 1]).toMatchObject({
      type: "update",
      room_id: "r",
      rev: 3,
      message: { seq: 2, status: "edited", rev: 3 },
    });
    expect(ws.sent[0]).toMatchObject({ seq: 9, status: "edited", rev: 2 });
    expect(ws.sent.at(-1)).toEqual({ type: "synced", room_id: "r", last_seq: 10, has_more: false, last_rev: 3 });
    expect(plan.updates).toMatchObject({ count: 1, hasMore: false });
  });

  it("replays no changes to a stream opened without after_rev, nor before the member joined", () => {
    const { src } = source(
      10,
      100,
      new Map([
        [2, 1],
        [6, 2],
      ]),
    );
    const none = socket();
    replayInto(none, src, meta(10), member(), { afterSeq: 10 }, 2, budget(), 0);
    expect(frames(none)).toEqual(["synced:"]);
    expect(none.sent.at(-1)).toMatchObject({ last_rev: 2 });
    const joined = socket();
    replayInto(joined, src, meta(10), member(5), { afterSeq: 10, afterRev: 0 }, 2, budget(), 0);
    expect(frames(joined)).toEqual(["update:6", "synced:"]);
  });

  it("sends the newest MAX_REPLAY changes, a page at a time, and says when older ones were left out", () => {
    const changed = new Map(Array.from({ length: 600 }, (_, i) => [i + 1, i + 1] as [number, number]));
    const { src, reads } = source(600, 100, changed);
    const ws = socket();
    replayInto(ws, src, meta(600), member(), { afterSeq: 600, afterRev: 0 }, 600, budget(), 0);
    const updates = ws.sent.filter((f) => f.type === "update").map((f) => f.rev);
    expect(updates).toEqual(Array.from({ length: MAX_REPLAY }, (_, i) => 101 + i));
    expect(ws.sent.at(-1)).toMatchObject({ type: "synced", updates_has_more: true, last_rev: 600 });
    expect(Math.max(...reads.changePages)).toBeLessThanOrEqual(REPLAY_PAGE_ROWS);
    // within the bound, nothing is said
    const few = socket();
    replayInto(few, src, meta(600), member(), { afterSeq: 600, afterRev: 550 }, 600, budget(), 0);
    expect(few.sent.filter((f) => f.type === "update")).toHaveLength(50);
    expect(few.sent.at(-1)).not.toHaveProperty("updates_has_more");
  });

  it("spends the shared byte budget on changes too", () => {
    const { src } = source(
      10,
      1000,
      new Map([
        [1, 1],
        [2, 2],
        [3, 3],
      ]),
    );
    const ws = socket();
    const small = new TokenBucket({ perSecond: 1, burst: 2500 }, 0);
    replayInto(ws, src, meta(10), member(), { afterSeq: 10, afterRev: 0 }, 3, small, 0);
    expect(ws.sent.filter((f) => f.type === "update").map((f) => f.rev)).toEqual([2, 3]);
    expect(ws.sent.at(-1)).toMatchObject({ updates_has_more: true });
  });

  it("replays every change it holds to a client whose after_rev is past the room's (the room started over)", () => {
    const { src } = source(5, 100, new Map([[3, 1]]));
    const ws = socket();
    replayInto(ws, src, meta(5), member(), { afterSeq: 5, afterRev: 40 }, 1, budget(), 0);
    expect(frames(ws)).toEqual(["update:3", "synced:"]);
  });
});
