// Sink configuration from the environment (README.md lists every variable). Everything is checked
// here, at start, so a typo stops the process with a clear message instead of surfacing as a
// failed write hours later.
import path from "node:path";
import { ConfigError, wholeNumber } from "../lib/config/index.js";
import { RETENTION_DAYS_DEFAULT } from "../protocol/archive.js";

export const DEFAULT_PORT = 8790;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_RETENTION_SECONDS = RETENTION_DAYS_DEFAULT * 86_400;
/**
 * Seqs per Cassandra partition. Bounds a partition by rows, whatever the room's rate: 5,000
 * messages of a typical few hundred bytes are ~1-2 MB; even 5,000 bodies at the 16 KiB cap stay
 * under ~85 MB. A 50-message page crosses into a second partition 1 time in 100.
 */
export const DEFAULT_BUCKET_SIZE = 5000;
export const DEFAULT_WRITE_CONCURRENCY = 64;
/** the secret SINK_DEV=1 falls back to; never accepted without SINK_DEV=1 */
export const DEV_SINK_SECRET = "dev-only-sink-secret-not-for-production";
const MIN_SECRET_LENGTH = 16;

export const CONSISTENCY_NAMES = [
  "ONE",
  "TWO",
  "THREE",
  "QUORUM",
  "ALL",
  "LOCAL_QUORUM",
  "EACH_QUORUM",
  "LOCAL_ONE",
] as const;
export type ConsistencyName = (typeof CONSISTENCY_NAMES)[number];

export type Replication =
  | { class: "SimpleStrategy"; replication_factor: number }
  | { class: "NetworkTopologyStrategy"; dcs: Record<string, number> };

export interface CassandraStoreConfig {
  kind: "cassandra";
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  replication: Replication;
  consistency: ConsistencyName;
  bucketSize: number;
  /** statements in flight per batch */
  writeConcurrency: number;
  /** apply the schema when the sink starts (else only `main.ts migrate` does) */
  migrateOnStart: boolean;
  username?: string;
  password?: string;
}

export interface SqliteStoreConfig {
  kind: "sqlite";
  path: string;
  /** how often expired rows are deleted (they are hidden from reads at once) */
  purgeIntervalMs: number;
}

export type StoreConfig = CassandraStoreConfig | SqliteStoreConfig;

export interface SinkConfig {
  host: string;
  port: number;
  secret: string;
  retentionSeconds: number;
  store: StoreConfig;
}

// main.ts tells a configuration mistake from a crash by this class
export { ConfigError };

type Env = Record<string, string | undefined>;

// Interpolated into CQL (identifiers cannot be bound), so only plain lowercase identifiers pass.
export function checkKeyspace(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(name))
    throw new ConfigError(`CASSANDRA_KEYSPACE must match [a-z][a-z0-9_]{0,47}, got ${JSON.stringify(name)}`);
  return name;
}

/** "SimpleStrategy:1" (one node, tests) or "dc1:3,dc2:3" (NetworkTopologyStrategy, production). */
export function parseReplication(spec: string): Replication {
  const s = spec.trim();
  const simple = /^SimpleStrategy:(\d+)$/i.exec(s);
  if (simple) {
    const rf = Number(simple[1]);
    if (rf < 1 || rf > 10) throw new ConfigError(`CASSANDRA_REPLICATION: replication factor must be 1..10, got ${rf}`);
    return { class: "SimpleStrategy", replication_factor: rf };
  }
  const dcs: Record<string, number> = {};
  for (const part of s.split(",")) {
    const m = /^\s*([A-Za-z0-9_.-]{1,64}):(\d+)\s*$/.exec(part);
    if (!m)
      throw new ConfigError(
        `CASSANDRA_REPLICATION must be "SimpleStrategy:<rf>" or "<dc>:<rf>,<dc>:<rf>", got ${JSON.stringify(spec)}`,
      );
    const rf = Number(m[2]);
    if (rf < 1 || rf > 10)
      throw new ConfigError(`CASSANDRA_REPLICATION: replication factor for ${m[1]} must be 1..10, got ${rf}`);
    if (m[1]! in dcs) throw new ConfigError(`CASSANDRA_REPLICATION names ${m[1]} twice`);
    dcs[m[1]!] = rf;
  }
  return { class: "NetworkTopologyStrategy", dcs };
}

export function parseConsistency(raw: string): ConsistencyName {
  const name = raw.trim().toUpperCase();
  if (!(CONSISTENCY_NAMES as readonly string[]).includes(name))
    throw new ConfigError(
      `CASSANDRA_CONSISTENCY must be one of ${CONSISTENCY_NAMES.join(", ")}, got ${JSON.stringify(raw)}`,
    );
  return name as ConsistencyName;
}

export function checkSecret(secret: string | undefined, dev: boolean): string {
  if (secret === undefined || secret === "") {
    if (dev) return DEV_SINK_SECRET;
    throw new ConfigError("SINK_SECRET is required (set SINK_DEV=1 for a local development default)");
  }
  if (secret.length < MIN_SECRET_LENGTH)
    throw new ConfigError(`SINK_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  if (secret === DEV_SINK_SECRET && !dev)
    throw new ConfigError("SINK_SECRET is the development default; set a real secret (or SINK_DEV=1)");
  return secret;
}

export function configFromEnv(env: Env = process.env, cwd = process.cwd()): SinkConfig {
  const dev = env.SINK_DEV === "1";
  const retentionSeconds = wholeNumber(env, "ARCHIVE_RETENTION_SECONDS", {
    default: DEFAULT_RETENTION_SECONDS,
    min: 1,
    max: 20 * 365 * 86400 - 1,
  });
  const contactPoints = (env.CASSANDRA_CONTACT_POINTS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  let store: StoreConfig;
  if (contactPoints.length) {
    const localDataCenter = env.CASSANDRA_LOCAL_DC?.trim();
    if (!localDataCenter)
      throw new ConfigError(
        "CASSANDRA_LOCAL_DC is required with CASSANDRA_CONTACT_POINTS (the data center this sink runs in)",
      );
    store = {
      kind: "cassandra",
      contactPoints,
      localDataCenter,
      keyspace: checkKeyspace(env.CASSANDRA_KEYSPACE?.trim() || "chat_archive"),
      replication: parseReplication(env.CASSANDRA_REPLICATION || "SimpleStrategy:1"),
      consistency: parseConsistency(env.CASSANDRA_CONSISTENCY || "LOCAL_QUORUM"),
      bucketSize: wholeNumber(env, "ARCHIVE_BUCKET_SIZE", { default: DEFAULT_BUCKET_SIZE, min: 1, max: 1_000_000 }),
      writeConcurrency: wholeNumber(env, "CASSANDRA_WRITE_CONCURRENCY", {
        default: DEFAULT_WRITE_CONCURRENCY,
        min: 1,
        max: 1024,
      }),
      migrateOnStart: env.CASSANDRA_MIGRATE_ON_START !== "0",
      ...(env.CASSANDRA_USERNAME ? { username: env.CASSANDRA_USERNAME, password: env.CASSANDRA_PASSWORD ?? "" } : {}),
    };
  } else {
    store = {
      kind: "sqlite",
      path: path.resolve(cwd, env.ARCHIVE_SQLITE_PATH || ".data/archive.sqlite"),
      purgeIntervalMs: wholeNumber(env, "ARCHIVE_PURGE_INTERVAL_SECONDS", { default: 60, min: 1, max: 86400 }) * 1000,
    };
  }
  const host = env.SINK_HOST?.trim() || DEFAULT_HOST;
  const secret = checkSecret(env.SINK_SECRET, dev);
  // a publicly known secret is only tolerable when nothing off this machine can reach the port
  if (secret === DEV_SINK_SECRET && !isLoopback(host))
    throw new ConfigError(`the development secret only works on a loopback SINK_HOST, not ${host}; set SINK_SECRET`);
  return {
    host,
    port: wholeNumber(env, "SINK_PORT", { default: DEFAULT_PORT, min: 0, max: 65535 }),
    secret,
    retentionSeconds,
    store,
  };
}

export const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
