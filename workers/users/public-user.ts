import { inArray } from "drizzle-orm";
import { users, type Database } from "../../db/index.js";
import type { PublicUser } from "../../protocol/index.js";

export function publicUser(row: { id: string; handle: string; displayName: string }): PublicUser {
  return { id: row.id, handle: row.handle, display_name: row.displayName };
}

/**
 * The public names of these users, by id (one query; users are never deleted physically, so
 * every id that ever was a user is found, whatever its status now).
 */
export async function publicUsersById(db: Database, ids: string[]): Promise<Map<string, PublicUser>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: users.id, handle: users.handle, displayName: users.displayName })
    .from(users)
    .where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, publicUser(r)]));
}
