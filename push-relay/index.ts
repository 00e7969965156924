// push-relay: tells offline members of new messages through APNs, FCM and Web Push. The rooms POST
// batches (protocol/push.ts); the relay keeps one notification per recipient and room in
// PostgreSQL and its dispatcher sends it to the recipient's devices. `startRelay()` is what
// main.ts, scripts/start.ts and the tests run; README.md describes the contract and configuration.
import type pg from "pg";
import { listen, type Listening } from "../lib/node-service/index.js";
import { createApp } from "./app.js";
import { DEFAULT_DISPATCH, DEFAULT_HOST, type DispatchSettings } from "./config.js";
import { Dispatcher } from "./dispatcher.js";
import { createMetrics, type RelayMetrics } from "./metrics.js";
import { providersFromEnv, type Providers } from "./providers/index.js";
import { purgeExpired, RETENTION_INTERVAL_MS, startRetention, type RetentionResult } from "./retention.js";
import { createPool, dbError, openStore, type RelayStore } from "./store.js";
import { RETENTION_DAYS_DEFAULT } from "../protocol/archive.js";

export { configFromEnv, ConfigError, DEFAULT_DISPATCH, type DispatchSettings, type RelayConfig } from "./config.js";
export type { Providers } from "./providers/index.js";

export interface StartRelayOptions {
  secret: string;
  /** a URL (the relay creates, bounds and ends the pool) or a pool the caller owns */
  databaseUrl?: string;
  pool?: pg.Pool;
  /** connections when the relay creates the pool */
  poolMax?: number;
  /** the caller owns these (closes them); without, record-only ones the relay owns */
  providers?: Providers;
  host?: string;
  /** 0 picks a free port */
  port?: number;
  retentionDays?: number;
  /** how often retention runs (default hourly) */
  retentionIntervalMs?: number;
  dispatch?: Partial<DispatchSettings>;
  /** the backoff jitter source (tests pin it) */
  random?: () => number;
  log?: (line: string) => void;
  maxBodyBytes?: number;
}

export interface RunningRelay {
  url: string;
  port: number;
  metrics: RelayMetrics;
  store: RelayStore;
  /** undefined on an intake-only relay */
  dispatcher: Dispatcher | undefined;
  /** one retention run now (it also runs on its own schedule) */
  purgeExpired(): Promise<RetentionResult>;
  /** stops accepting requests, lets those in flight and the dispatch round finish, then closes. Idempotent. */
  stop(): Promise<void>;
}

export async function startRelay(o: StartRelayOptions): Promise<RunningRelay> {
  const log = o.log ?? ((line: string) => console.log(`[push-relay] ${line}`));
  if (!o.pool && !o.databaseUrl) throw new Error("startRelay needs a databaseUrl or a pool");
  const store = openStore(o.pool ?? createPool(o.databaseUrl!, o.poolMax ?? 5), !o.pool, log);
  const ownsProviders = !o.providers;
  const providers = o.providers ?? providersFromEnv({}, log);
  const settings: DispatchSettings = { ...DEFAULT_DISPATCH, ...o.dispatch };
  const retentionDays = o.retentionDays ?? RETENTION_DAYS_DEFAULT;

  const metrics = createMetrics(() => store.countPending());
  const dispatcher = settings.enabled
    ? new Dispatcher({
        db: store.db,
        providers,
        metrics,
        settings,
        log,
        ...(o.random ? { random: o.random } : {}),
      })
    : undefined;
  const app = createApp({
    store,
    secret: o.secret,
    metrics,
    log,
    ...(dispatcher ? { onNotifications: () => dispatcher.wake() } : {}),
    ...(o.maxBodyBytes ? { maxBodyBytes: o.maxBodyBytes } : {}),
  });

  const host = o.host ?? DEFAULT_HOST;
  let listening: Listening;
  try {
    listening = await listen(app.fetch, host, o.port ?? 0);
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  const { port, url } = listening;

  // PostgreSQL being down at start is not fatal: /readyz says so, the rooms' outboxes wait, and
  // the dispatcher retries its rounds
  store.ping().catch((err: unknown) => log(`PostgreSQL not reachable yet: ${dbError(err)}`));
  dispatcher?.start();
  const retention = startRetention(store.db, retentionDays, log, o.retentionIntervalMs ?? RETENTION_INTERVAL_MS);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await listening.close();
      await dispatcher?.stop();
      await retention.stop();
      if (ownsProviders) await Promise.all(Object.values(providers).map((p) => p.close().catch(() => {})));
      await store.close();
    })());
  return {
    url,
    port,
    metrics,
    store,
    dispatcher,
    purgeExpired: () => purgeExpired(store.db, retentionDays),
    stop,
  };
}
