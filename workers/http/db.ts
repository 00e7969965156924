import type { Context, MiddlewareHandler } from "hono";
import { openDb, type Database, type DbHandle } from "../../db/index.js";
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

/** Closes the request's pool after the response; in workerd a socket may not outlive its request. */
export const closeDb: MiddlewareHandler<AppBindings> = async (c, next) => {
  try {
    await next();
  } finally {
    const handle: DbHandle | undefined = c.get("dbHandle");
    if (handle) c.executionCtx.waitUntil(handle.close().catch(() => {}));
  }
};
