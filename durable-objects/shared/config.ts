// Tunables of the Durable Objects, read from wrangler.toml [vars] (strings there, numbers here),
// with the defaults a production deployment starts from.
import { ConfigError, decimalNumber, wholeNumber, type ConfigEnv } from "../../lib/config/index.js";
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
  /** push rows (and read offsets for the relay) nobody took are dropped after this */
  pushOutboxTtlMs: number;
  /** longest wait between two attempts to hand a push batch to a relay that is down */
  pushRetryMaxMs: number;
  coalesceMs: number;
  /** longest wait between two attempts to hand the outbox to a sink that is down */
  archiveRetryMaxMs: number;
  /** the outbox flushes when this many items wait, or when the oldest has waited archiveFlushMs */
  archiveBatchMaxItems: number;
  archiveFlushMs: number;
  /**
   * how often an active room reports its last seq, activity time and moved read offsets to PostgreSQL (room-report.ts):
   * each report is a PostgreSQL connection from the object, so not once per flush window
   */
  roomReportMs: number;
  /** rooms larger than this coalesce activity and receipts */
  immediateFanoutMaxMembers: number;
  /** how many of a user's rooms (latest activity first) their first socket subscribes to; the rest lazily */
  sessionSubscribeMaxRooms: number;
  /** sockets one user may hold on one object, and one device of theirs */
  socketsPerUser: number;
  socketsPerDevice: number;
  /** every frame a socket sends (sends, reads, typing, auth, pings with an id) spends from this budget */
  framesPerSecond: number;
  frameBurst: number;
  /** replay bytes one object may write to opening streams: a burst, refilled per second */
  replayBurstBytes: number;
  replayBytesPerSecond: number;
  /** a room whose SQLite database reaches this size refuses sends (`unavailable`) before a write fails */
  roomStorageLimitBytes: number;
  /** outbox rows the sink refused as malformed are kept this long, and at most this many, for an operator */
  refusedOutboxTtlMs: number;
  refusedOutboxMax: number;
}

const DAY = 86_400_000;
const MB = 1024 * 1024;

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
    // A day: long enough to ride out a relay outage overnight without losing a notification, short
    // enough that nobody is told of day-old messages when it returns (and a room's push rows stay
    // bounded by a day of its messages, which the hot tail keeps meanwhile).
    pushOutboxTtlMs: decimalNumber(env, "PUSH_OUTBOX_TTL_SECONDS", { default: 86_400, min: 1 }) * 1000,
    pushRetryMaxMs: decimalNumber(env, "PUSH_RETRY_MAX_SECONDS", { default: 60, min: 0.1 }) * 1000,
    coalesceMs: 1000,
    archiveRetryMaxMs: decimalNumber(env, "ARCHIVE_RETRY_MAX_SECONDS", { default: 300, min: 1 }) * 1000,
    // the sink refuses a larger batch whole
    archiveBatchMaxItems: wholeNumber(env, "ARCHIVE_BATCH_MAX_ITEMS", {
      default: 200,
      min: 1,
      max: ARCHIVE_BATCH_MAX_ITEMS,
    }),
    archiveFlushMs: decimalNumber(env, "ARCHIVE_FLUSH_MS", { default: 10_000, min: 10 }),
    roomReportMs: decimalNumber(env, "ROOM_REPORT_SECONDS", { default: 300, min: 0.01 }) * 1000,
    immediateFanoutMaxMembers: 100,
    sessionSubscribeMaxRooms: wholeNumber(env, "SESSION_SUBSCRIBE_MAX_ROOMS", { default: 200, min: 1 }),
    socketsPerUser: wholeNumber(env, "SOCKETS_PER_USER", { default: 20, min: 1 }),
    socketsPerDevice: wholeNumber(env, "SOCKETS_PER_DEVICE", { default: 4, min: 1 }),
    framesPerSecond: decimalNumber(env, "FRAME_RATE_PER_SECOND", { default: 30, min: 0.001 }),
    frameBurst: wholeNumber(env, "FRAME_BURST", { default: 100, min: 1 }),
    replayBurstBytes: wholeNumber(env, "REPLAY_BURST_BYTES", { default: 32 * MB, min: 64 * 1024 }),
    replayBytesPerSecond: wholeNumber(env, "REPLAY_BYTES_PER_SECOND", { default: 8 * MB, min: 1024 }),
    // an object's SQLite database may hold 10 GB; stop taking messages a good way before that
    roomStorageLimitBytes: wholeNumber(env, "ROOM_STORAGE_LIMIT_BYTES", { default: 9 * 1024 * MB, min: 1 }),
    refusedOutboxTtlMs: decimalNumber(env, "REFUSED_OUTBOX_TTL_DAYS", { default: 7, min: 0.00001 }) * DAY,
    refusedOutboxMax: wholeNumber(env, "REFUSED_OUTBOX_MAX_ROWS", { default: 10_000, min: 1 }),
  };
}

/** What the objects run with when nothing is configured. */
export const REALTIME_DEFAULTS: Readonly<RealtimeConfig> = Object.freeze(realtimeConfig({}));

export interface ServiceConfig {
  /** base URL, without a trailing slash */
  url: string;
  secret: string;
}
export type SinkConfig = ServiceConfig;
export type PushRelayConfig = ServiceConfig;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * A service the objects hand data to, from `<urlVar>` and `<secretVar>`, or null when the URL is
 * unset. One without a secret, or reached over plain http: beyond this machine, would hand every
 * message (and the secret) to anyone on the path: that stops the object with a ConfigError.
 */
function serviceConfig(env: ConfigEnv, urlVar: string, secretVar: string, what: string): ServiceConfig | null {
  const raw = env[urlVar];
  if (raw === undefined || raw === "") return null;
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new ConfigError(`${urlVar} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigError(`${urlVar} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  if (url.protocol === "http:" && !LOOPBACK.test(url.hostname))
    throw new ConfigError(
      `${urlVar} may use plain http: only on this machine (localhost, 127.x, [::1]); use https: for ${url.host}`,
    );
  const secret = typeof env[secretVar] === "string" ? (env[secretVar] as string) : "";
  if (secret.trim() === "") throw new ConfigError(`${secretVar} must be set (${what}) when ${urlVar} is`);
  return { url: url.toString().replace(/\/$/, ""), secret };
}

/** Where rooms archive to, or null when SINK_URL is unset (rooms keep their outbox). */
export function sinkConfig(env: ConfigEnv): SinkConfig | null {
  return serviceConfig(env, "SINK_URL", "SINK_SECRET", "the sink's shared secret");
}

/** Where rooms hand push batches to, or null when PUSH_RELAY_URL is unset (rooms queue no push rows). */
export function pushRelayConfig(env: ConfigEnv): PushRelayConfig | null {
  return serviceConfig(env, "PUSH_RELAY_URL", "PUSH_RELAY_SECRET", "the push relay's shared secret");
}
