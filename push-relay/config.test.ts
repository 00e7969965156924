// Configuration from the environment: defaults, and refusals that name the variable.
import { describe, expect, it } from "vitest";
import { configFromEnv, DEFAULT_DISPATCH } from "./config.js";

const base = { PUSH_RELAY_SECRET: "s".repeat(32), DATABASE_URL: "postgres://relay@db.internal:5432/chat" };

describe("push-relay config", () => {
  it("defaults to 127.0.0.1:8791, a pool of 5, 183 days and the dispatch defaults", () => {
    expect(configFromEnv(base)).toEqual({
      host: "127.0.0.1",
      port: 8791,
      secret: base.PUSH_RELAY_SECRET,
      databaseUrl: base.DATABASE_URL,
      poolMax: 5,
      retentionDays: 183,
      dispatch: DEFAULT_DISPATCH,
    });
    expect(DEFAULT_DISPATCH).toMatchObject({ maxTries: 3, retryBaseMs: 10_000, quotaBaseMs: 60_000 });
  });

  it("reads every setting it documents", () => {
    const c = configFromEnv({
      ...base,
      DATABASE_URL: "postgresql://relay:pw@10.0.0.5/chat",
      PUSH_RELAY_HOST: "0.0.0.0",
      PUSH_RELAY_PORT: "9000",
      PUSH_RELAY_DB_POOL_MAX: "12",
      RETENTION_DAYS: "30.5",
      PUSH_DISPATCH: "off",
      PUSH_DISPATCH_BATCH: "10",
      PUSH_DISPATCH_CONCURRENCY: "4",
      PUSH_DISPATCH_LEASE_SECONDS: "30",
      PUSH_DISPATCH_POLL_MS: "250",
      PUSH_RETRY_BASE_MS: "2000",
      PUSH_RETRY_QUOTA_BASE_MS: "5000",
      PUSH_RETRY_CAP_MS: "60000",
      PUSH_MAX_TRIES: "5",
      PUSH_PROVIDER_PAUSE_SECONDS: "60",
      PUSH_TTL_SECONDS: "3600",
    });
    expect(c).toMatchObject({ host: "0.0.0.0", port: 9000, poolMax: 12, retentionDays: 30.5 });
    expect(c.dispatch).toEqual({
      enabled: false,
      claimBatch: 10,
      sendConcurrency: 4,
      leaseMs: 30_000,
      idlePollMs: 250,
      retryBaseMs: 2000,
      quotaBaseMs: 5000,
      retryCapMs: 60_000,
      maxTries: 5,
      providerPauseMs: 60_000,
      ttlSeconds: 3600,
    });
  });

  it("requires a secret of 16 characters or more and a postgres:// DATABASE_URL", () => {
    expect(() => configFromEnv({ DATABASE_URL: base.DATABASE_URL })).toThrow(/PUSH_RELAY_SECRET is required/);
    expect(() => configFromEnv({ ...base, PUSH_RELAY_SECRET: "short-secret" })).toThrow(/at least 16/);
    expect(() => configFromEnv({ PUSH_RELAY_SECRET: base.PUSH_RELAY_SECRET })).toThrow(/DATABASE_URL is required/);
    expect(() => configFromEnv({ ...base, DATABASE_URL: "mysql://u:hunter2@h/db" })).toThrow(/postgres:\/\//);
    // a refusal never repeats the URL: it may hold a password
    expect(() => configFromEnv({ ...base, DATABASE_URL: "mysql://u:hunter2@h/db" })).not.toThrow(/hunter2/);
    expect(() => configFromEnv({ ...base, DATABASE_URL: "not a url" })).toThrow(/DATABASE_URL/);
  });

  it("refuses malformed numbers by name", () => {
    expect(() => configFromEnv({ ...base, PUSH_RELAY_PORT: "70000" })).toThrow(/PUSH_RELAY_PORT/);
    expect(() => configFromEnv({ ...base, PUSH_RELAY_DB_POOL_MAX: "0" })).toThrow(/PUSH_RELAY_DB_POOL_MAX/);
    expect(() => configFromEnv({ ...base, RETENTION_DAYS: "six months" })).toThrow(/RETENTION_DAYS/);
    expect(() => configFromEnv({ ...base, PUSH_MAX_TRIES: "0" })).toThrow(/PUSH_MAX_TRIES/);
    expect(() => configFromEnv({ ...base, PUSH_DISPATCH: "maybe" })).toThrow(/PUSH_DISPATCH/);
    expect(() => configFromEnv({ ...base, PUSH_RETRY_CAP_MS: "1000" })).toThrow(/PUSH_RETRY_CAP_MS/);
  });
});
