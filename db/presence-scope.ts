// Whose presence a user may watch: their friends (people they added) and people they share an
// active room with. Everyone else is silently left out of a watch_presence request.
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Exec } from "./client.js";
import { isActiveMember } from "./membership.js";
import { FriendStatus } from "./codes.js";
import { chatMembers, friends } from "./schema/index.js";

export async function watchableAmong(db: Exec, me: string, ids: readonly string[]): Promise<Set<string>> {
  const wanted = [...new Set(ids.map((i) => i.toLowerCase()))].filter((i) => i !== me);
  if (wanted.length === 0) return new Set();
  const friendRows = await db
    .select({ id: friends.friendId })
    .from(friends)
    .where(and(eq(friends.ownerId, me), eq(friends.status, FriendStatus.added), inArray(friends.friendId, wanted)));
  const allowed = new Set(friendRows.map((r) => r.id));
  const rest = wanted.filter((id) => !allowed.has(id));
  if (rest.length) {
    const mine = db
      .select({ roomId: chatMembers.roomId })
      .from(chatMembers)
      .where(and(eq(chatMembers.userId, me), isActiveMember));
    const shared = await db
      .selectDistinct({ id: chatMembers.userId })
      .from(chatMembers)
      .where(and(inArray(chatMembers.userId, rest), isActiveMember, sql`${chatMembers.roomId} in ${mine}`));
    for (const r of shared) allowed.add(r.id);
  }
  return allowed;
}
