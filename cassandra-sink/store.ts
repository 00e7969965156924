// What the HTTP layer needs from an archive, whatever holds it: Cassandra in production, a SQLite
// file on a laptop. Both apply the same retention rule: a message is kept until
// created_at + retention, however late it was archived.
import type {
  ArchiveBatch,
  ArchiveHistoryMessage,
  ArchiveHistoryPage,
  ArchiveHistoryQuery,
  ArchiveMessage,
  ArchiveOffsets,
  ArchiveWriteResult,
} from "../protocol/index.js";

export interface ArchiveStore {
  readonly kind: "cassandra" | "sqlite";
  /** connect and make sure the schema is there */
  init(): Promise<void>;
  /** all items stored when it resolves; throws (nothing acknowledged) when any write failed */
  writeBatch(batch: ArchiveBatch, nowMs?: number): Promise<ArchiveWriteResult>;
  readHistory(roomId: string, query: ArchiveHistoryQuery, nowMs?: number): Promise<ArchiveHistoryPage>;
  readOffsets(roomId: string): Promise<ArchiveOffsets>;
  /** the highest seq any batch carried for the room (0: none), kept past the messages' own expiry */
  lastSeq(roomId: string): Promise<number>;
  /** resolves when the store answers a cheap query; for /readyz */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Seconds a message written now has left, or 0 when it is already past retention. */
export function remainingTtlSeconds(createdAtMs: number, nowMs: number, retentionSeconds: number): number {
  const ageSeconds = Math.max(0, (nowMs - createdAtMs) / 1000); // a clock ahead of ours is not "younger than new"
  return Math.max(0, Math.floor(retentionSeconds - ageSeconds));
}

/** The page bounds both stores use: exclusive (lo, hi), and the direction. */
export function pageBounds(q: ArchiveHistoryQuery): { lo: number; hi: number; ascending: boolean } {
  return { lo: q.after_seq ?? 0, hi: q.before_seq ?? Number.MAX_SAFE_INTEGER, ascending: q.after_seq !== undefined };
}

/** The highest seq per room in a batch, expired messages included (their seqs were given out too). */
export function highestSeqs(batch: Pick<ArchiveBatch, "messages">): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of batch.messages) out.set(m.room_id, Math.max(out.get(m.room_id) ?? 0, m.seq));
  return out;
}

/** A stored version of a message, before it is shaped for a page. */
export interface StoredMessage {
  room_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  client_message_id: string;
  body: string;
  mentions: string[];
  mention_all: boolean;
  reply_to_seq: number | null;
  attachments: ArchiveMessage["attachments"];
  status: ArchiveMessage["status"];
  created_at: string;
  /** the version's time (null: the message as sent) */
  updated_at: string | null;
}

/**
 * The client's Message shape: optional fields left out when empty; a deleted message keeps only
 * its place; a changed one says how (status) and when (updated_at).
 */
export function toHistoryMessage(m: StoredMessage): ArchiveHistoryMessage {
  const out: ArchiveHistoryMessage = {
    room_id: m.room_id,
    seq: m.seq,
    message_id: m.message_id,
    sender_id: m.sender_id,
    client_message_id: m.client_message_id,
    body: m.status === "deleted" ? "" : m.body,
    mentions: m.status === "deleted" ? [] : m.mentions,
    mention_all: m.status === "deleted" ? false : m.mention_all,
    created_at: m.created_at,
  };
  if (m.reply_to_seq !== null) out.reply_to_seq = m.reply_to_seq;
  if (m.status !== "deleted" && m.attachments.length) out.attachments = m.attachments;
  if (m.status !== "active") {
    out.status = m.status;
    out.updated_at = m.updated_at ?? m.created_at;
  }
  return out;
}

/** Runs tasks with at most `limit` in flight; rejects with the first error after the rest settle. */
export async function runBounded(tasks: Array<() => Promise<unknown>>, limit: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < tasks.length && !failure) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure) throw failure.error;
}

export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
