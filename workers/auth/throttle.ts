// Login throttling from the auth log itself: the failures already recorded for a handle or an IP
// in the window decide, so it holds across every edge location without another store.
import { and, count, eq, gt, min } from "drizzle-orm";
import { type Database, AuthEvent, authLogs } from "../../db/index.js";
import { rateLimited } from "../http/errors.js";

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_HANDLE = 5;
export const MAX_FAILURES_PER_IP = 30;

export async function assertLoginAllowed(db: Database, handle: string, ip: string | null): Promise<void> {
  const since = new Date(Date.now() - LOGIN_WINDOW_MS);
  const failed = and(eq(authLogs.event, AuthEvent.login), eq(authLogs.success, false), gt(authLogs.at, since));
  const check = async (where: ReturnType<typeof and>, limit: number, what: string) => {
    const [row] = await db
      .select({ n: count(), first: min(authLogs.at) })
      .from(authLogs)
      .where(and(failed, where));
    if (row && row.n >= limit && row.first) {
      const retryAfterMs = Math.max(1000, new Date(row.first).getTime() + LOGIN_WINDOW_MS - Date.now());
      throw rateLimited(`too many failed logins for this ${what}; try again later`, retryAfterMs);
    }
  };
  await check(eq(authLogs.handle, handle), MAX_FAILURES_PER_HANDLE, "account");
  if (ip) await check(eq(authLogs.ip, ip), MAX_FAILURES_PER_IP, "address");
}
