// Who may be online, as a hint in PostgreSQL: a session sets users.online_since when its first
// socket opens and clears it when its last one closes. A new room or a new member is announced
// only to those sessions (a 1,000-member group otherwise wakes 1,000 sessions nobody holds).
//   - A session marks itself online *before* it lists its rooms, so a room created meanwhile is
//     either in that list or sees the mark: no online session misses a room.
//   - Clearing matches the period it ends, so a late clear never hides a newer period.
//   - A mark left behind (a runtime that lost a session without its close) only costs a wake-up.
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import type { Exec } from "./client.js";
import { users } from "./schema/index.js";

export async function markOnline(db: Exec, userId: string, since: Date): Promise<void> {
  await db.update(users).set({ onlineSince: since }).where(eq(users.id, userId));
}

export async function markOffline(db: Exec, userId: string, since: Date): Promise<void> {
  await db
    .update(users)
    .set({ onlineSince: null })
    .where(and(eq(users.id, userId), eq(users.onlineSince, since)));
}

/** The users among `ids` whose session may hold a socket. */
export async function mayBeOnline(db: Exec, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(inArray(users.id, [...ids]), isNotNull(users.onlineSince)));
  return rows.map((r) => r.id);
}
