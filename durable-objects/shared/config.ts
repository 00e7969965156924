// Tunables of the Durable Objects, read from wrangler.toml [vars] (strings there, numbers here),
// with the defaults a production deployment starts from.
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
}

const DAY = 86_400_000;

function num(value: unknown, fallback: number, min = 0): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) && n >= min ? n : fallback;
}

export function realtimeConfig(env: Record<string, unknown>): RealtimeConfig {
  return {
    sendPerSecond: num(env.SEND_RATE_PER_SECOND, 10, 0.001),
    sendBurst: num(env.SEND_BURST, 30, 1),
    typingIntervalMs: num(env.TYPING_INTERVAL_MS, 3000),
    silentSocketMs: num(env.SILENT_SOCKET_SECONDS, 60, 1) * 1000,
    emptyRoomTtlMs: num(env.EMPTY_ROOM_TTL_SECONDS, 3600, 1) * 1000,
    retentionMs: num(env.RETENTION_DAYS, 183, 0.00001) * DAY,
    hotTailMaxMessages: num(env.HOT_TAIL_MAX_MESSAGES, 10_000, 1),
    hotTailMaxAgeMs: num(env.HOT_TAIL_MAX_DAYS, 30, 0.00001) * DAY,
    dedupeMs: Math.max(7 * DAY, num(env.DEDUPE_DAYS, 7) * DAY),
    pushOutboxTtlMs: num(env.PUSH_OUTBOX_TTL_SECONDS, 3600, 1) * 1000,
    coalesceMs: 1000,
    archiveRetryMaxMs: num(env.ARCHIVE_RETRY_MAX_SECONDS, 300, 1) * 1000,
    archiveBatchMaxItems: Math.min(1000, num(env.ARCHIVE_BATCH_MAX_ITEMS, 200, 1)),
    archiveFlushMs: num(env.ARCHIVE_FLUSH_MS, 10_000, 10),
    immediateFanoutMaxMembers: 100,
  };
}
