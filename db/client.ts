// One database handle per request: in workerd a socket may not outlive the request that opened
// it, so the pool is created here and ended by the caller (ctx.waitUntil(db.close())).
import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "./schema/index.js";

export type Database = NeonDatabase<typeof schema>;
/** A transaction handle; `Exec` is anything that can run a query (the database or a transaction). */
export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
export type Exec = Database | Tx;
export interface DbHandle {
  db: Database;
  close(): Promise<void>;
}

export interface DbSettings {
  DATABASE_URL: string;
  /** host:port/path of a local WebSocket-to-TCP proxy; unset against Neon */
  NEON_WS_PROXY?: string;
}

let configuredProxy: string | undefined;

function configureLocalProxy(proxy: string | undefined) {
  if (!proxy || proxy === configuredProxy) return;
  // Settings for a plain Postgres behind our own proxy (see TOOLCHAIN.md): no TLS on loopback,
  // and no pipelined connect, which only works with cleartext passwords.
  neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  neonConfig.coalesceWrites = false;
  configuredProxy = proxy;
}

export function openDb(settings: DbSettings): DbHandle {
  configureLocalProxy(settings.NEON_WS_PROXY);
  // One connection per request: queries a request runs together queue on it instead of opening
  // more. With several, a request could hold one idle while waiting for the next, and a burst of
  // such requests holds every connection a bounded pooler (Neon's, or the local proxy's budget)
  // allows while none can proceed.
  const pool = new Pool({ connectionString: settings.DATABASE_URL, max: 1 });
  // An idle client's socket error must not become an unhandled rejection that kills the isolate.
  pool.on("error", () => {});
  const db = drizzle({ client: pool, schema });
  return { db, close: () => pool.end() };
}

/**
 * Runs `fn` on a handle of its own and ends it in the background (`waitUntil`): for Durable
 * Objects, whose work outlives no request but must not wait for the pool to close either.
 */
export async function withDb<T>(
  settings: DbSettings,
  waitUntil: (p: Promise<unknown>) => void,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const handle = openDb(settings);
  try {
    return await fn(handle.db);
  } finally {
    waitUntil(handle.close().catch(() => {}));
  }
}
