// Whose presence a user may see. You are visible to the people *you* added as friends and to the
// co-members of your active rooms (a direct room once you opened or read in it); never to someone
// you blocked or who blocked you. Adding someone as a friend is one-directional and asks no consent, so it gives the adder no sight of
// them. The sessions ask this when a device watches users, and again when a block, a friend
// removal or a membership change may have taken the sight away.
import { and, eq, inArray, sql } from "drizzle-orm";
import { activeBlocksBetween } from "./blocks.js";
import type { Exec } from "./client.js";
import { isActiveMember } from "./membership.js";
import { FriendStatus, RoomStatus, RoomType } from "./codes.js";
import { chatMembers, chatRooms, friends } from "./schema/index.js";

/**
 * A shared room shows the watched member to the other only when the watched one chose it: any
 * group (a user can refuse group adds from strangers, workers/rooms/admission.ts), or a direct
 * room they opened or have read in. Anyone may open a direct room with anyone they are not
 * blocked by, so a stranger's direct room alone gives no sight.
 */
const consented = sql`(${chatRooms.roomType} = ${RoomType.group} or ${chatRooms.createdBy} = ${chatMembers.userId} or ${chatMembers.lastReadSeq} > 0)`;

const distinct = (me: string, ids: readonly string[]) =>
  [...new Set(ids.map((i) => i.toLowerCase()))].filter((i) => i !== me);

/** Of `targets`, those whose presence `watcher` may see. */
export async function watchableAmong(db: Exec, watcher: string, targets: readonly string[]): Promise<Set<string>> {
  return visibleAmong(db, watcher, distinct(watcher, targets), "they-added-me");
}

/** Of `watchers`, those who may see `target`'s presence. */
export async function watchersAllowed(db: Exec, target: string, watchers: readonly string[]): Promise<Set<string>> {
  return visibleAmong(db, target, distinct(target, watchers), "i-added-them");
}

async function visibleAmong(
  db: Exec,
  me: string,
  others: string[],
  friendship: "they-added-me" | "i-added-them",
): Promise<Set<string>> {
  if (others.length === 0) return new Set();
  const blocked = await activeBlocksBetween(db, me, others);
  const refused = new Set(blocked.map((b) => (b.blocker === me ? b.blocked : b.blocker)));
  const candidates = others.filter((id) => !refused.has(id));
  if (candidates.length === 0) return new Set();

  const friendRows =
    friendship === "they-added-me"
      ? await db
          .select({ id: friends.ownerId })
          .from(friends)
          .where(
            and(eq(friends.friendId, me), eq(friends.status, FriendStatus.added), inArray(friends.ownerId, candidates)),
          )
      : await db
          .select({ id: friends.friendId })
          .from(friends)
          .where(
            and(eq(friends.ownerId, me), eq(friends.status, FriendStatus.added), inArray(friends.friendId, candidates)),
          );
  const allowed = new Set(friendRows.map((r) => r.id));
  const rest = candidates.filter((id) => !allowed.has(id));
  if (rest.length) {
    // the side being watched: `me` when others ask to see me, the others when I ask to see them
    const meWatched = friendship === "i-added-them";
    const mine = db
      .select({ roomId: chatMembers.roomId })
      .from(chatMembers)
      .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
      .where(
        and(
          eq(chatMembers.userId, me),
          isActiveMember,
          eq(chatRooms.status, RoomStatus.active),
          meWatched ? consented : undefined,
        ),
      );
    const shared = await db
      .selectDistinct({ id: chatMembers.userId })
      .from(chatMembers)
      .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
      .where(
        and(
          inArray(chatMembers.userId, rest),
          isActiveMember,
          sql`${chatMembers.roomId} in ${mine}`,
          meWatched ? undefined : consented,
        ),
      );
    for (const r of shared) allowed.add(r.id);
  }
  return allowed;
}
