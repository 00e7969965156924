// Relay configuration from the environment (README.md lists every variable). Everything is checked
// at start, so a typo stops the process with a clear message instead of a relay that silently
// retries forever or never pauses a misconfigured provider.
import { ConfigError, decimalNumber, wholeNumber, type ConfigEnv } from "../lib/config/index.js";
import { RETENTION_DAYS_DEFAULT } from "../protocol/archive.js";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8791;
const MIN_SECRET_LENGTH = 16;

export interface DispatchSettings {
  /** false: an intake-only relay (another instance dispatches) */
  enabled: boolean;
  /** notifications claimed per round */
  claimBatch: number;
  /** provider requests in flight at once, over all notifications of a round */
  sendConcurrency: number;
  /** how long a claimed notification is ours; longer than a round's slowest provider answer */
  leaseMs: number;
  /** the longest the loop sleeps without a wake-up (rows another relay took in, clock drift) */
  idlePollMs: number;
  /** the first retry's backoff window (full jitter), doubling per try */
  retryBaseMs: number;
  /** the same for a provider quota (429 with quota semantics) */
  quotaBaseMs: number;
  /** the widest backoff window */
  retryCapMs: number;
  /** tries per device and notification before it is given up (the first send included) */
  maxTries: number;
  /** how long a provider that answered with a configuration fault is left alone */
  providerPauseMs: number;
  /** how long a provider may keep a notification for an offline device */
  ttlSeconds: number;
}

export const DEFAULT_DISPATCH: DispatchSettings = {
  enabled: true,
  claimBatch: 50,
  sendConcurrency: 32,
  leaseMs: 120_000,
  idlePollMs: 5_000,
  retryBaseMs: 10_000,
  quotaBaseMs: 60_000,
  retryCapMs: 15 * 60_000,
  maxTries: 3,
  providerPauseMs: 5 * 60_000,
  ttlSeconds: 24 * 3600,
};

export interface RelayConfig {
  host: string;
  port: number;
  secret: string;
  databaseUrl: string;
  /** connections the relay may hold on PostgreSQL */
  poolMax: number;
  retentionDays: number;
  dispatch: DispatchSettings;
}

// main.ts tells a configuration mistake from a crash by this class
export { ConfigError };

export function checkSecret(secret: unknown): string {
  if (typeof secret !== "string" || secret === "")
    throw new ConfigError("PUSH_RELAY_SECRET is required (the shared secret the rooms send as Bearer)");
  if (secret.length < MIN_SECRET_LENGTH)
    throw new ConfigError(`PUSH_RELAY_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  return secret;
}

export function checkDatabaseUrl(raw: unknown): string {
  if (typeof raw !== "string" || raw.trim() === "")
    throw new ConfigError("DATABASE_URL is required (postgres://user@host:port/database)");
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError("DATABASE_URL must be a postgres:// URL");
  }
  // the message never repeats the URL: it may carry a password
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, not ${url.protocol}//`);
  if (!url.hostname) throw new ConfigError("DATABASE_URL names no host");
  return raw.trim();
}

function onOff(env: ConfigEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "1" || raw === "on" || raw === "true") return true;
  if (raw === "0" || raw === "off" || raw === "false") return false;
  throw new ConfigError(`${name} must be on or off (1/0), got ${JSON.stringify(raw)}`);
}

export function dispatchFromEnv(env: ConfigEnv): DispatchSettings {
  const d = DEFAULT_DISPATCH;
  const ms = (name: string, def: number, min: number, max: number) =>
    wholeNumber(env, name, { default: def, min, max });
  const seconds = (name: string, defMs: number, min: number, max: number) =>
    wholeNumber(env, name, { default: defMs / 1000, min, max }) * 1000;
  const retryBaseMs = ms("PUSH_RETRY_BASE_MS", d.retryBaseMs, 1, 3_600_000);
  const quotaBaseMs = ms("PUSH_RETRY_QUOTA_BASE_MS", d.quotaBaseMs, 1, 3_600_000);
  const retryCapMs = ms("PUSH_RETRY_CAP_MS", d.retryCapMs, 1, 24 * 3_600_000);
  if (retryCapMs < Math.max(retryBaseMs, quotaBaseMs))
    throw new ConfigError("PUSH_RETRY_CAP_MS must be at least PUSH_RETRY_BASE_MS and PUSH_RETRY_QUOTA_BASE_MS");
  return {
    enabled: onOff(env, "PUSH_DISPATCH", d.enabled),
    claimBatch: wholeNumber(env, "PUSH_DISPATCH_BATCH", { default: d.claimBatch, min: 1, max: 1000 }),
    sendConcurrency: wholeNumber(env, "PUSH_DISPATCH_CONCURRENCY", { default: d.sendConcurrency, min: 1, max: 1000 }),
    leaseMs: seconds("PUSH_DISPATCH_LEASE_SECONDS", d.leaseMs, 5, 3600),
    idlePollMs: ms("PUSH_DISPATCH_POLL_MS", d.idlePollMs, 10, 600_000),
    retryBaseMs,
    quotaBaseMs,
    retryCapMs,
    maxTries: wholeNumber(env, "PUSH_MAX_TRIES", { default: d.maxTries, min: 1, max: 10 }),
    providerPauseMs: seconds("PUSH_PROVIDER_PAUSE_SECONDS", d.providerPauseMs, 1, 86_400),
    ttlSeconds: wholeNumber(env, "PUSH_TTL_SECONDS", { default: d.ttlSeconds, min: 0, max: 28 * 86_400 }),
  };
}

export function configFromEnv(env: ConfigEnv = process.env): RelayConfig {
  const host = (typeof env.PUSH_RELAY_HOST === "string" && env.PUSH_RELAY_HOST.trim()) || DEFAULT_HOST;
  return {
    host,
    port: wholeNumber(env, "PUSH_RELAY_PORT", { default: DEFAULT_PORT, min: 0, max: 65535 }),
    secret: checkSecret(env.PUSH_RELAY_SECRET),
    databaseUrl: checkDatabaseUrl(env.DATABASE_URL),
    poolMax: wholeNumber(env, "PUSH_RELAY_DB_POOL_MAX", { default: 5, min: 1, max: 100 }),
    // a fraction is allowed (the rooms read it the same way), so one value serves every deployable
    retentionDays: decimalNumber(env, "RETENTION_DAYS", {
      default: RETENTION_DAYS_DEFAULT,
      min: 0.00001,
      max: 20 * 365,
    }),
    dispatch: dispatchFromEnv(env),
  };
}
