// Tunables of the Durable Objects, read from wrangler.toml [vars] (strings there, numbers here),
// with the defaults a production deployment starts from.
import { decimalNumber, wholeNumber, type ConfigEnv } from "../../lib/config/index.js";
import { ARCHIVE_BATCH_MAX_ITEMS, RETENTION_DAYS_DEFAULT } from "../../protocol/archive.js";

export interface RealtimeConfig {
  sendPerSecond: number;
  sendBurst: number;
  typingIntervalMs: number;
  silentSocketMs: number;
  emptyRoomTtlMs: number;
  retentionMs: number;
  hotTailMaxMessages: number;
  hotTailMaxAgeMs: number;
  dedupeMs: number;
  pushOutboxTtlMs: number;
  coalesceMs: number;
  /** longest wait between two attempts to hand the outbox to a sink that is down */
  archiveRetryMaxMs: number;
  /** the outbox flushes when this many items wait, or when the oldest has waited archiveFlushMs */
  archiveBatchMaxItems: number;
  archiveFlushMs: number;
  /** rooms larger than this coalesce activity and receipts */
  immediateFanoutMaxMembers: number;
  /** how many of a user's rooms (latest activity first) their first socket subscribes to; the rest lazily */
  sessionSubscribeMaxRooms: number;
}

const DAY = 86_400_000;

/**
 * Every default is written here once, in the unit of its variable. A bad value throws (see
 * lib/config): the objects would otherwise run on a number nobody chose.
 */
export function realtimeConfig(env: ConfigEnv): RealtimeConfig {
  return {
    sendPerSecond: decimalNumber(env, "SEND_RATE_PER_SECOND", { default: 10, min: 0.001 }),
    sendBurst: wholeNumber(env, "SEND_BURST", { default: 30, min: 1 }),
    typingIntervalMs: decimalNumber(env, "TYPING_INTERVAL_MS", { default: 3000 }),
    silentSocketMs: decimalNumber(env, "SILENT_SOCKET_SECONDS", { default: 60, min: 1 }) * 1000,
    emptyRoomTtlMs: decimalNumber(env, "EMPTY_ROOM_TTL_SECONDS", { default: 3600, min: 1 }) * 1000,
    retentionMs: decimalNumber(env, "RETENTION_DAYS", { default: RETENTION_DAYS_DEFAULT, min: 0.00001 }) * DAY,
    hotTailMaxMessages: wholeNumber(env, "HOT_TAIL_MAX_MESSAGES", { default: 10_000, min: 1 }),
    hotTailMaxAgeMs: decimalNumber(env, "HOT_TAIL_MAX_DAYS", { default: 30, min: 0.00001 }) * DAY,
    // PROTOCOL.md promises that a send stays idempotent for at least 7 days
    dedupeMs: decimalNumber(env, "DEDUPE_DAYS", { default: 7, min: 7 }) * DAY,
    pushOutboxTtlMs: decimalNumber(env, "PUSH_OUTBOX_TTL_SECONDS", { default: 3600, min: 1 }) * 1000,
    coalesceMs: 1000,
    archiveRetryMaxMs: decimalNumber(env, "ARCHIVE_RETRY_MAX_SECONDS", { default: 300, min: 1 }) * 1000,
    // the sink refuses a larger batch whole
    archiveBatchMaxItems: wholeNumber(env, "ARCHIVE_BATCH_MAX_ITEMS", {
      default: 200,
      min: 1,
      max: ARCHIVE_BATCH_MAX_ITEMS,
    }),
    archiveFlushMs: decimalNumber(env, "ARCHIVE_FLUSH_MS", { default: 10_000, min: 10 }),
    immediateFanoutMaxMembers: 100,
    sessionSubscribeMaxRooms: wholeNumber(env, "SESSION_SUBSCRIBE_MAX_ROOMS", { default: 200, min: 1 }),
  };
}

/** What the objects run with when nothing is configured. */
export const REALTIME_DEFAULTS: Readonly<RealtimeConfig> = Object.freeze(realtimeConfig({}));
