import type { Context, MiddlewareHandler } from "hono";
import { describeError, openDb, type Database, type DbHandle } from "../../db/index.js";
import type { AppBindings } from "../env.js";

/** The request's database, opened on first use (health checks and token checks need none). */
export function dbOf(c: Context<AppBindings>): Database {
  let handle = c.get("dbHandle");
  if (!handle) {
    handle = openDb(c.env);
    c.set("dbHandle", handle);
  }
  return handle.db;
}

/**
 * Writes the answer does not wait for (audit rows, counters), on the request's own connection:
 * they start now, and the pool closes only after them. A failure is logged, never answered.
 */
export function afterResponse(c: Context<AppBindings>, what: string, work: (db: Database) => Promise<unknown>): void {
  const pending = c.get("dbAfterResponse") ?? [];
  c.set("dbAfterResponse", pending);
  pending.push(work(dbOf(c)).catch((err: unknown) => console.error(`${what} failed: ${describeError(err)}`)));
}

/** Closes the request's pool after the response; in workerd a socket may not outlive its request. */
export const closeDb: MiddlewareHandler<AppBindings> = async (c, next) => {
  try {
    await next();
  } finally {
    const handle: DbHandle | undefined = c.get("dbHandle");
    const pending = c.get("dbAfterResponse") ?? [];
    if (handle)
      c.executionCtx.waitUntil(
        Promise.allSettled(pending)
          .then(() => handle.close())
          .catch(() => {}),
      );
  }
};
