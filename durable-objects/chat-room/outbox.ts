// The outbox's rules: when a flush is due, how long to wait after a failure, and how stored rows
// become one archive batch. Pure, so they are tested without a runtime or a sink.
import type { ArchiveBatchInput, ArchiveMessageInput, ArchiveReadOffset, Message } from "../../protocol/index.js";
import { REALTIME_DEFAULTS } from "../shared/config.js";

export interface OutboxSettings {
  /** flush once this many items wait */
  maxItems: number;
  /** or once the oldest has waited this long */
  maxAgeMs: number;
  /** stay under the sink's body limit (it refuses larger batches whole) */
  maxBytes: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** The three configurable settings come from realtimeConfig's defaults, the other two live here only. */
export const DEFAULT_OUTBOX: OutboxSettings = {
  maxItems: REALTIME_DEFAULTS.archiveBatchMaxItems,
  maxAgeMs: REALTIME_DEFAULTS.archiveFlushMs,
  maxBytes: 4 * 1024 * 1024,
  backoffBaseMs: 500,
  backoffMaxMs: REALTIME_DEFAULTS.archiveRetryMaxMs,
};

/** Exponential backoff with full jitter: a fleet of rooms retrying a sink that came back does not stampede it. */
export function backoffMs(
  attempt: number,
  s: Pick<OutboxSettings, "backoffBaseMs" | "backoffMaxMs">,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(s.backoffBaseMs / 2, Math.round(ceiling * random()));
}

export interface OutboxRow {
  id: number;
  kind: string;
  seq: number | null;
  payload: unknown;
  created_at: number;
}

const utf8 = new TextEncoder();

/**
 * The archive's version of a message: the current one (an edit or delete sends the message again,
 * through the same insert, with its status and updated_at: the archive keeps the latest version,
 * and its time-to-live still runs from created_at).
 */
export function toArchiveMessage(m: Message): ArchiveMessageInput {
  return {
    room_id: m.room_id,
    seq: m.seq,
    message_id: m.message_id,
    sender_id: m.sender_id,
    client_message_id: m.client_message_id,
    body: m.body,
    mentions: m.mentions,
    mention_all: m.mention_all,
    reply_to_seq: m.reply_to_seq ?? null,
    attachments: m.attachments ?? [],
    status: m.status ?? "active",
    created_at: m.created_at,
    ...(m.updated_at ? { updated_at: m.updated_at } : {}),
  };
}

/**
 * One batch from the oldest rows, cut by count and by bytes. Rows whose message has already left
 * storage (past retention) are settled without being sent: there is nothing left to archive.
 */
export function buildBatch(
  rows: readonly OutboxRow[],
  messageOf: (seq: number) => Message | null,
  batchId: string,
  s: Pick<OutboxSettings, "maxItems" | "maxBytes">,
): { batch: ArchiveBatchInput | null; ids: number[] } {
  const messages: ArchiveMessageInput[] = [];
  const reads = new Map<string, ArchiveReadOffset>();
  const ids: number[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (ids.length >= s.maxItems) break;
    let item: ArchiveMessageInput | ArchiveReadOffset | null = null;
    if (row.kind === "message" && row.seq !== null) {
      const m = messageOf(row.seq);
      item = m ? toArchiveMessage(m) : null;
    } else if (row.kind === "read") {
      item = row.payload as ArchiveReadOffset;
    }
    const size = item ? utf8.encode(JSON.stringify(item)).length + 1 : 0;
    if (ids.length > 0 && bytes + size > s.maxBytes) break;
    bytes += size;
    ids.push(row.id);
    if (!item) continue;
    if (row.kind === "message") messages.push(item as ArchiveMessageInput);
    else {
      // only the newest offset of each reader matters
      const r = item as ArchiveReadOffset;
      const had = reads.get(r.user_id);
      if (!had || had.read_seq <= r.read_seq) reads.set(r.user_id, r);
    }
  }
  const read_offsets = [...reads.values()];
  return { batch: messages.length || read_offsets.length ? { batch_id: batchId, messages, read_offsets } : null, ids };
}
