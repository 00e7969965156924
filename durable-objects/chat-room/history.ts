// A history page across the room's hot tail and the archive. Seqs at or below `archivedUpTo` are
// only in the archive (the hot tail starts after them), so a page walks from one into the other
// with no gap and no duplicate. Pure apart from the two readers it is given.
import type { ArchiveHistoryQuery, HistoryPage, HistoryQuery } from "../../protocol/index.js";
import type { MemberState } from "./members.js";
import type { SinkClient } from "./sink-client.js";
import type { MessageStore } from "./message-store.js";
import type { RoomMeta } from "./store.js";

export interface HistorySources {
  /** the member's joined_seq: nothing at or below it is theirs to see */
  floor: number;
  /** the oldest seq still in the hot tail (0 when it is empty) */
  oldestHot: number;
  lastSeq: number;
  hot(q: ArchiveHistoryQuery): HistoryPage;
  /** null when no archive is configured */
  archive: ((q: ArchiveHistoryQuery) => Promise<HistoryPage>) | null;
}

export async function historyPage(src: HistorySources, q: HistoryQuery): Promise<HistoryPage> {
  const limit = q.limit ?? 50;
  const { floor } = src;
  const archivedUpTo = src.oldestHot > 0 ? src.oldestHot - 1 : src.lastSeq;
  const archive = archivedUpTo > floor ? src.archive : null;
  if (q.after_seq !== undefined) {
    const from = Math.max(q.after_seq, floor);
    if (!archive || from >= archivedUpTo) return src.hot({ after_seq: from, limit });
    const older = await archive({ after_seq: from, before_seq: archivedUpTo + 1, limit });
    if (older.messages.length >= limit || older.has_more)
      return { messages: older.messages.slice(0, limit), has_more: true };
    const rest = src.hot({ after_seq: archivedUpTo, limit: limit - older.messages.length });
    return { messages: [...older.messages, ...rest.messages], has_more: rest.has_more };
  }
  const hot = src.hot({ ...(q.before_seq !== undefined ? { before_seq: q.before_seq } : {}), limit });
  const lowestHot = hot.messages.at(-1)?.seq;
  const below = Math.min(
    (q.before_seq ?? Infinity) - 1,
    lowestHot !== undefined ? lowestHot - 1 : Infinity,
    archivedUpTo,
  );
  if (!archive || below <= floor) return hot;
  if (hot.messages.length >= limit) return { messages: hot.messages, has_more: true };
  const older = await archive({ before_seq: below + 1, limit: limit - hot.messages.length });
  const visible = older.messages.filter((m) => m.seq > floor);
  return {
    messages: [...hot.messages, ...visible],
    has_more: older.has_more && visible.length === older.messages.length,
  };
}

/** A member's history page in this room: the hot tail, then the archive (503 while it is unreachable). */
export async function roomHistory(
  store: Pick<MessageStore, "oldestSeq" | "page">,
  sink: Pick<SinkClient, "page"> | null,
  meta: RoomMeta,
  member: Pick<MemberState, "joined_seq">,
  q: HistoryQuery,
): Promise<{ page: HistoryPage } | { status: 503; message: string }> {
  try {
    const page = await historyPage(
      {
        floor: member.joined_seq,
        oldestHot: store.oldestSeq(),
        lastSeq: meta.last_seq,
        hot: (pq) => store.page(meta.room_id, member.joined_seq, pq),
        archive: sink ? (pq) => sink.page(meta.room_id, pq) : null,
      },
      q,
    );
    return { page };
  } catch (err) {
    console.warn(`room ${meta.room_id}: archive read failed: ${String(err)}`);
    return { status: 503, message: "older messages are unavailable right now; try again" };
  }
}
