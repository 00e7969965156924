// The archive contract between a ChatRoom's outbox and the cassandra-sink (snake_case JSON over
// HTTP). The sink validates every batch with these schemas and refuses a batch whole when any item
// is malformed, so the outbox can treat "200" as "every item stored" and "400" as a bug to log,
// never as something a retry would fix.
import { z } from "zod";
import {
  Attachment,
  ClientMessageId,
  HISTORY_PAGE_MAX,
  MAX_ATTACHMENTS,
  MAX_MENTIONS,
  MessageBody,
  type Message,
} from "./frames.js";
import { Id } from "./http.js";

/** `Authorization: Bearer <SINK_SECRET>` on every sink route but /healthz, /readyz and /metrics. */
export const SINK_AUTH_SCHEME = "Bearer";
export const ARCHIVE_BATCH_MAX_ITEMS = 1000;
/**
 * How long a message is kept after its created_at, by the room (RETENTION_DAYS) and by the sink
 * (ARCHIVE_RETENTION_SECONDS) alike unless a deployment sets them: the product keeps 6 months of
 * history. The two must agree: a shorter archive loses messages early, a longer one keeps them
 * past the retention the product states.
 * 183 days is half a year rounded up (365.25 / 2 = 182.6); the six-month spans that start in
 * March, May, July or August are 184 days.
 */
export const RETENTION_DAYS_DEFAULT = 183;
/**
 * The largest request body the sink reads. A worst-case message (4,000 escaped characters plus
 * ten attachments) stays under 64 KiB of JSON, so a batch at this bound still holds 128 of them;
 * the outbox must cut batches by bytes as well as by count.
 */
export const ARCHIVE_BATCH_MAX_BYTES = 8 * 1024 * 1024;
export const ARCHIVE_HISTORY_DEFAULT_LIMIT = 50;
export const ARCHIVE_HISTORY_MAX_LIMIT = HISTORY_PAGE_MAX;

// Cassandra stores message ids as TIMEUUID, which accepts only version-1 UUIDs; checking here
// turns a late driver error (after part of a batch was written) into a clear 400 up front.
export const TimeUuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i, "must be a version-1 (time) UUID")
  .transform((s) => s.toLowerCase());

// Both stores hand ids back in lowercase; normalising on the way in makes read-back equal input.
const LowerId = Id.transform((s) => s.toLowerCase());

/** ISO-8601 instant, normalised to `toISOString()` form (millisecond precision, UTC). */
export const IsoInstant = z.iso
  .datetime({ offset: true, message: "must be an ISO-8601 date-time" })
  .transform((s) => new Date(s).toISOString());

const Seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const ArchiveMessage = z.strictObject({
  room_id: LowerId,
  seq: Seq,
  message_id: TimeUuid,
  sender_id: LowerId,
  client_message_id: ClientMessageId,
  body: MessageBody,
  mentions: z.array(LowerId).max(MAX_MENTIONS).default([]),
  mention_all: z.boolean().default(false),
  reply_to_seq: Seq.nullable().optional(),
  attachments: z.array(Attachment).max(MAX_ATTACHMENTS).default([]),
  /** "edited": body is the latest edit; "deleted": body, mentions and attachments are not kept */
  status: z.enum(["active", "edited", "deleted"]).default("active"),
  created_at: IsoInstant,
  /**
   * When this version of the message was made (default created_at). A later version of the same
   * seq (status "edited" or "deleted") replaces an earlier one, and a retried older version never
   * overwrites a newer one, whatever order they arrive in. Every version goes through the same
   * insert, whose time-to-live is what is left of the retention after created_at: a change never
   * restarts it.
   */
  updated_at: IsoInstant.optional(),
});
export type ArchiveMessage = z.infer<typeof ArchiveMessage>;
export type ArchiveMessageInput = z.input<typeof ArchiveMessage>;

export const ArchiveReadOffset = z.strictObject({
  room_id: LowerId,
  user_id: LowerId,
  read_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** an offset with an older updated_at never overwrites one with a newer updated_at */
  updated_at: IsoInstant,
});
export type ArchiveReadOffset = z.infer<typeof ArchiveReadOffset>;

export const ArchiveBatch = z
  .strictObject({
    /** the outbox's id for this batch, for logs and tracing; idempotency comes from the rows themselves */
    batch_id: z.string().min(1).max(128),
    messages: z.array(ArchiveMessage).max(ARCHIVE_BATCH_MAX_ITEMS).default([]),
    read_offsets: z.array(ArchiveReadOffset).max(ARCHIVE_BATCH_MAX_ITEMS).default([]),
  })
  .refine((b) => b.messages.length + b.read_offsets.length > 0, "a batch needs at least one message or read offset");
export type ArchiveBatch = z.infer<typeof ArchiveBatch>;
export type ArchiveBatchInput = z.input<typeof ArchiveBatch>;

/** The answer to `POST /v1/batches`: every item is stored when this arrives. */
export interface ArchiveWriteResult {
  /** messages in the batch, stored or already past retention */
  messages: number;
  read_offsets: number;
  /** of `messages`, how many were past retention when they arrived and were not written */
  expired: number;
}

// Query strings are strings: digits only, so "1e3", " 5" or "-0" are errors rather than guesses.
const querySeq = (min: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "must be a non-negative integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER));

export const ArchiveHistoryQuery = z
  .strictObject({
    /** exclusive upper bound; newest first */
    before_seq: querySeq(1).optional(),
    /** exclusive lower bound; oldest first (with before_seq too: oldest first within the range) */
    after_seq: querySeq(0).optional(),
    limit: querySeq(1).pipe(z.number().max(ARCHIVE_HISTORY_MAX_LIMIT)).default(ARCHIVE_HISTORY_DEFAULT_LIMIT),
  })
  .refine(
    (q) => q.before_seq === undefined || q.after_seq === undefined || q.after_seq < q.before_seq,
    "after_seq must be below before_seq",
  );
/**
 * One history page request with its bounds resolved: what the sink's stores read, what a room
 * asks the sink for, and what it reads its own hot tail with. The client's HistoryQuery
 * (protocol/realtime.ts) is looser (limit optional, one bound at a time) and becomes this.
 */
export type ArchiveHistoryQuery = z.infer<typeof ArchiveHistoryQuery>;

/**
 * A message as history pages carry it: the client's Message shape (reply_to_seq and attachments
 * left out when empty); a changed one has `status` ("edited", or "deleted": its body, mentions and
 * attachments are gone but its seq stays so pages have no holes) and `updated_at`. The archive
 * knows no `rev` (the room's change cursor): only the room's own hot tail carries it.
 */
export type ArchiveHistoryMessage = Omit<Message, "rev">;

export interface ArchiveHistoryPage {
  messages: ArchiveHistoryMessage[];
  /** more messages exist past the last one of this page, in the page's direction */
  has_more: boolean;
}

export interface ArchiveOffsets {
  offsets: Array<{ user_id: string; read_seq: number; updated_at: string }>;
}

/** The answer to `GET /v1/rooms/:room_id/read-offsets`, as a room that lost its storage checks it. */
export const ArchiveOffsetsAnswer = z.object({
  offsets: z
    .array(
      z.object({
        user_id: LowerId,
        read_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        updated_at: z.string(),
      }),
    )
    .max(100_000),
});

/**
 * The answer to `GET /v1/rooms/:room_id/last-seq`: the highest seq the archive was ever given for
 * the room (0: none), whether or not that message has since expired. A room that lost its storage
 * continues after it, so no seq is given twice.
 */
export const ArchiveLastSeq = z.object({ last_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });
export type ArchiveLastSeq = z.infer<typeof ArchiveLastSeq>;
