// The relay's handle on PostgreSQL: drizzle over a bounded `pg` pool. The rooms' batches, the
// dispatcher and retention share it, so the pool size bounds what the relay asks of the database
// however many batches arrive at once.
import { sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { PushStatus, schema } from "../db/index.js";

export type RelayDb = NodePgDatabase<typeof schema>;
export type RelayTx = Parameters<Parameters<RelayDb["transaction"]>[0]>[0];
export type RelayExec = RelayDb | RelayTx;

export interface RelayStore {
  db: RelayDb;
  pool: pg.Pool;
  /** resolves when PostgreSQL answers a trivial query */
  ping(): Promise<void>;
  countPending(): Promise<number>;
  /** ends the pool when the relay created it */
  close(): Promise<void>;
}

export function createPool(databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // a statement stuck behind a lock must not hold a connection (and a room's request) forever
    statement_timeout: 30_000,
  });
  return pool;
}

export function openStore(pool: pg.Pool, owned: boolean, log: (line: string) => void): RelayStore {
  // an idle client's socket error (PostgreSQL restarted) must not crash the process; the next
  // query reconnects. A pool the caller passed in gets the handler too.
  pool.on("error", (err) => log(`postgres: idle connection error: ${err.message}`));
  const db = drizzle({ client: pool, schema });
  return {
    db,
    pool,
    async ping() {
      await db.execute(sql`select 1`);
    },
    async countPending() {
      const r = await db.execute<{ n: string }>(
        sql`select count(*) as n from push_notifications where status = ${PushStatus.pending}`,
      );
      return Number(r.rows[0]?.n ?? 0);
    },
    close: async () => {
      if (owned) await pool.end();
    },
  };
}

/**
 * What went wrong with a statement, for a log line: drizzle wraps the driver's error in one whose
 * message is the whole statement and its parameters; the cause says why (and is shorter).
 */
export function dbError(err: unknown): string {
  const cause = (err as { cause?: { message?: string; code?: string } } | undefined)?.cause;
  if (cause?.message) return cause.code ? `${cause.message} (${cause.code})` : cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** A JS array as one bound parameter (drizzle would expand it into a list), for unnest() and any(). */
export const list = (values: readonly unknown[]) => sql.param(values);
