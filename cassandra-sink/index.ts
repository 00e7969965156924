// cassandra-sink: the archive behind the ChatRoom outbox. `startSink()` is what main.ts, scripts/start.ts
// and the tests run; README.md describes the HTTP contract and configuration.
import { listen } from "../lib/node-service/index.js";
import { createApp } from "./app.js";
import { CassandraArchiveStore } from "./cassandra-store.js";
import { DEFAULT_HOST, DEFAULT_RETENTION_SECONDS, type StoreConfig } from "./config.js";
import { createMetrics, type SinkMetrics } from "./metrics.js";
import { SqliteArchiveStore } from "./sqlite-store.js";
import type { ArchiveStore } from "./store.js";

export { configFromEnv, ConfigError, type SinkConfig, type StoreConfig } from "./config.js";
export type { ArchiveStore } from "./store.js";
export { CassandraArchiveStore } from "./cassandra-store.js";
export { SqliteArchiveStore } from "./sqlite-store.js";

export interface StartSinkOptions {
  secret: string;
  /** a store config (the sink creates, opens and closes the store) or a store object (the caller owns it) */
  store: StoreConfig | ArchiveStore;
  host?: string;
  /** 0 picks a free port */
  port?: number;
  retentionSeconds?: number;
  log?: (line: string) => void;
  /** keep retrying the store's first connection this long before giving up (default 60 s) */
  initTimeoutMs?: number;
  maxBodyBytes?: number;
}

export interface RunningSink {
  url: string;
  port: number;
  store: ArchiveStore;
  metrics: SinkMetrics;
  /** stops accepting requests, lets the ones in flight finish (up to 10 s), then closes the store. Idempotent. */
  stop(): Promise<void>;
}

export function createStore(config: StoreConfig, retentionSeconds: number, log?: (line: string) => void): ArchiveStore {
  const common = { retentionSeconds, ...(log ? { log } : {}) };
  if (config.kind === "cassandra") {
    const { kind: _, ...rest } = config;
    return new CassandraArchiveStore({ ...rest, ...common });
  }
  const { kind: _, ...rest } = config;
  return new SqliteArchiveStore({ ...rest, ...common });
}

const isStore = (s: StoreConfig | ArchiveStore): s is ArchiveStore =>
  typeof (s as ArchiveStore).writeBatch === "function";

export async function startSink(o: StartSinkOptions): Promise<RunningSink> {
  const log = o.log ?? ((line: string) => console.log(`[sink] ${line}`));
  const owned = !isStore(o.store);
  const store = isStore(o.store) ? o.store : createStore(o.store, o.retentionSeconds ?? DEFAULT_RETENTION_SECONDS, log);
  if (owned) await initWithRetry(store, o.initTimeoutMs ?? 60_000, log);

  const metrics = createMetrics();
  const app = createApp({
    store,
    secret: o.secret,
    metrics,
    log,
    ...(o.maxBodyBytes ? { maxBodyBytes: o.maxBodyBytes } : {}),
  });
  const host = o.host ?? DEFAULT_HOST;
  const listening = await listen(app.fetch, host, o.port ?? 0);
  const { port, url } = listening;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await listening.close();
      if (owned) await store.close();
    })());
  return { url, port, store, metrics, stop };
}

async function initWithRetry(store: ArchiveStore, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await store.init();
      return;
    } catch (err) {
      if (Date.now() + 1000 > deadline) {
        await store.close().catch(() => {});
        throw new Error(
          `the ${store.kind} archive store did not come up within ${timeoutMs / 1000} s: ${(err as Error).message}`,
        );
      }
      log(`${store.kind} store not ready (attempt ${attempt}): ${(err as Error).message}; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
}
