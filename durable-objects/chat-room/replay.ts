// A stream opening: the newest ≤ MAX_REPLAY messages after `after_seq` (never before the member
// joined), then `synced`, then live. Replay and going live happen in one synchronous turn: a send
// is committed and broadcast in a turn of its own, so it lands either in this replay or on the
// live socket, never in both and never in neither.
//
// `has_more` is true whenever the replay does not start right after `after_seq`: the messages in
// between were left out (more than MAX_REPLAY, or past the byte budget below), or only the archive
// holds them (the hot tail was pruned, or the room lost its storage). The client pages them over
// HTTP from `after_seq`, up to the first replayed seq.
//
// Memory. 500 messages of up to ~40 KB each are ~20 MB per open, and what a socket was sent stays
// buffered until its client reads it: 200 opens at once would be gigabytes. So replay reads the
// messages a page at a time (only their sizes first), and the object spends replay bytes from
// one budget shared by all its opens: once it is spent, an open replays only the newest messages
// that fit (possibly none) and says `has_more: true`, and the client pages the rest over HTTP,
// which costs one bounded page per request.
//
// Changes. A stream opened with `after_rev` also hears, after the messages and before `synced`,
// of the edits and deletes after that rev to the messages it holds: those at or below the
// replay's start (the replayed ones are sent as they are now), each message once, in its current
// version, as `update` frames in rev order. At most MAX_REPLAY of them, within what is left of the
// same byte budget; when more changed, the newest are sent and `synced.updates_has_more` says the
// client should reload the messages it holds (history pages show current versions). `synced`
// always carries `last_rev`, the cursor to resume from. An after_rev above the room's rev is from
// before the room lost its storage (its cursor started over): every change it holds is replayed.
import { MAX_REPLAY, type Message, type ServerFrame } from "../../protocol/index.js";
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

/** rows read from storage at once while replaying */
export const REPLAY_PAGE_ROWS = 50;

export interface ReplaySource {
  /** seq and approximate frame size of the newest `limit` messages after `afterSeq`, newest first */
  replaySizes(afterSeq: number, limit: number): Array<{ seq: number; bytes: number }>;
  /** messages with fromSeq ≤ seq ≤ toSeq, oldest first, at most `limit` */
  replayPage(roomId: string, fromSeq: number, toSeq: number, limit: number): Message[];
  /** rev and frame size of the newest `limit` changes after `afterRev` to floorSeq < seq ≤ maxSeq, newest first */
  changeSizes(afterRev: number, floorSeq: number, maxSeq: number, limit: number): Array<{ rev: number; bytes: number }>;
  /** the messages changed with fromRev ≤ rev ≤ toRev (and floorSeq < seq ≤ maxSeq), oldest change first, at most `limit` */
  changePage(
    roomId: string,
    fromRev: number,
    toRev: number,
    floorSeq: number,
    maxSeq: number,
    limit: number,
  ): Message[];
}

/** Where a stream resumes: after `afterSeq`, and after `afterRev` for changes (none: no changes replayed). */
export interface ResumePoint {
  afterSeq: number;
  afterRev?: number;
}

/** The replay bytes an object may still write, shared by all its opens. */
export interface ReplayBudget {
  available(now: number): number;
  take(now: number, bytes: number): void;
}

export interface ReplayPlan {
  /** the oldest and newest seq to replay (none when count is 0) */
  fromSeq: number;
  toSeq: number;
  count: number;
  bytes: number;
  hasMore: boolean;
}

/**
 * Which of the newest messages to replay: at most `max`, newest first while they fit in `allowance`
 * bytes. `sizes` holds up to max + 1 entries, newest first (one more says there are older ones);
 * `gap` (the seq the client resumes after, and the room's last) also counts a hot tail that starts
 * later than that as more.
 */
export function planReplay(
  sizes: ReadonlyArray<{ seq: number; bytes: number }>,
  max: number,
  allowance: number,
  gap?: { afterSeq: number; lastSeq: number },
): ReplayPlan {
  let count = 0;
  let bytes = 0;
  for (const s of sizes) {
    if (count >= max || bytes + s.bytes > allowance) break;
    bytes += s.bytes;
    count++;
  }
  const first = count === 0 ? (gap?.lastSeq ?? 0) + 1 : sizes[count - 1]!.seq;
  // the hot tail may not reach back to after_seq: then only the archive holds the messages between
  const hasMore = sizes.length > count || (gap !== undefined && first > gap.afterSeq + 1);
  if (count === 0) return { fromSeq: 0, toSeq: 0, count, bytes, hasMore };
  return { fromSeq: first, toSeq: sizes[0]!.seq, count, bytes, hasMore };
}

export function replayInto(
  ws: Pick<WebSocket, "send">,
  store: ReplaySource,
  meta: RoomMeta,
  member: MemberState,
  resume: ResumePoint,
  rev: number,
  budget: ReplayBudget,
  now: number,
): ReplayPlan & { updates: ReplayPlan | null } {
  const afterSeq = resume.afterSeq;
  const from = Math.max(Number.isFinite(afterSeq) ? afterSeq : 0, member.joined_seq);
  const plan = planReplay(store.replaySizes(from, MAX_REPLAY + 1), MAX_REPLAY, budget.available(now), {
    afterSeq: from,
    lastSeq: meta.last_seq,
  });
  budget.take(now, plan.bytes);
  let next = plan.fromSeq;
  while (plan.count > 0 && next <= plan.toSeq) {
    const page = store.replayPage(meta.room_id, next, plan.toSeq, REPLAY_PAGE_ROWS);
    if (page.length === 0) break;
    for (const m of page) ws.send(JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
    next = page[page.length - 1]!.seq + 1;
  }
  // the replayed messages are sent as they are now: the changes that matter are to older ones
  const upTo = plan.count > 0 ? plan.fromSeq - 1 : meta.last_seq;
  const updates =
    resume.afterRev === undefined
      ? null
      : replayUpdates(
          ws,
          store,
          meta.room_id,
          { afterRev: resume.afterRev, rev, floor: member.joined_seq, upTo },
          budget,
          now,
        );
  const synced: ServerFrame = {
    type: "synced",
    room_id: meta.room_id,
    last_seq: meta.last_seq,
    has_more: plan.hasMore,
    last_rev: rev,
    ...(updates?.hasMore ? { updates_has_more: true } : {}),
  };
  ws.send(JSON.stringify(synced));
  return { ...plan, updates };
}

/**
 * The `update` frames of the changes after `afterRev` (the room's cursor being `rev`) to messages
 * with floor < seq ≤ upTo. Its plan counts revs, not seqs.
 */
function replayUpdates(
  ws: Pick<WebSocket, "send">,
  store: ReplaySource,
  roomId: string,
  c: { afterRev: number; rev: number; floor: number; upTo: number },
  budget: ReplayBudget,
  now: number,
): ReplayPlan {
  const after = c.afterRev > c.rev ? 0 : c.afterRev;
  const { floor, upTo: maxSeq } = c;
  if (after >= c.rev || maxSeq <= floor) return { fromSeq: 0, toSeq: 0, count: 0, bytes: 0, hasMore: false };
  const sizes = store.changeSizes(after, floor, maxSeq, MAX_REPLAY + 1).map((s) => ({ seq: s.rev, bytes: s.bytes }));
  const plan = planReplay(sizes, MAX_REPLAY, budget.available(now));
  budget.take(now, plan.bytes);
  let next = plan.fromSeq;
  while (plan.count > 0 && next <= plan.toSeq) {
    const page = store.changePage(roomId, next, plan.toSeq, floor, maxSeq, REPLAY_PAGE_ROWS);
    if (page.length === 0) break;
    for (const m of page)
      ws.send(JSON.stringify({ type: "update", room_id: roomId, rev: m.rev ?? 0, message: m } satisfies ServerFrame));
    next = (page[page.length - 1]!.rev ?? plan.toSeq) + 1;
  }
  return plan;
}
