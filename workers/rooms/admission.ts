// Who may be put into a room, beyond roles: every user is in at most MAX_ROOMS_PER_USER rooms (a
// spammer cannot bury anyone under groups, and every list, subscription round and logout fan-out
// stays bounded), and a user may accept group adds only from people they added as friends.
// Both run inside the transaction that adds the members, after the rows of the users concerned
// are locked, so concurrent adds of one user queue and together cannot pass the cap.
import { and, eq, inArray, sql } from "drizzle-orm";
import {
  type Tx,
  FriendStatus,
  GroupAdds,
  MemberStatus,
  RoomStatus,
  chatMembers,
  chatRooms,
  friends,
  users,
} from "../../db/index.js";
import { wholeNumber, type ConfigEnv } from "../../lib/config/index.js";
import { HttpError } from "../http/errors.js";

export const DEFAULT_MAX_ROOMS_PER_USER = 2000;

export function maxRoomsPerUser(env: ConfigEnv): number {
  return wholeNumber(env, "MAX_ROOMS_PER_USER", { default: DEFAULT_MAX_ROOMS_PER_USER, min: 1 });
}

function listIds(ids: string[], max = 10): string {
  const shown = ids.slice(0, max).join(", ");
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/** Locks the users' rows (in id order, so two transactions never wait on each other in a cycle). */
async function lockUsers(tx: Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .select({ id: users.id })
    .from(users)
    .where(inArray(users.id, [...ids]))
    .orderBy(users.id)
    .for("no key update");
}

/** Of `ids`, those already in `cap` or more active rooms. */
export async function usersAtCap(tx: Tx, ids: readonly string[], cap: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await tx
    .select({ userId: chatMembers.userId })
    .from(chatMembers)
    .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
    .where(
      and(
        inArray(chatMembers.userId, [...ids]),
        eq(chatMembers.status, MemberStatus.active),
        sql`${chatMembers.leftAt} is null`,
        eq(chatRooms.status, RoomStatus.active),
      ),
    )
    .groupBy(chatMembers.userId)
    .having(sql`count(*) >= ${cap}`);
  return rows.map((r) => r.userId);
}

/**
 * Every one of `joining` gets a seat in one more room, or the whole change is refused (409).
 * `self` is the caller when they join too (creating a room), so the message speaks to them.
 */
export async function assertRoomSeats(tx: Tx, joining: readonly string[], cap: number, self?: string): Promise<void> {
  await lockUsers(tx, joining);
  const full = await usersAtCap(tx, joining, cap);
  if (full.length === 0) return;
  if (self && full.includes(self))
    throw new HttpError(409, "conflict", `you are in ${cap} rooms, the most one can be in; leave one first`);
  throw new HttpError(409, "conflict", `these users are in ${cap} rooms, the most one can be in: ${listIds(full)}`);
}

/** Refuses (403 group_adds_refused) when any of `added` accepts group adds only from friends and has not added `adder`. */
export async function assertGroupAddsAccepted(tx: Tx, adder: string, added: readonly string[]): Promise<void> {
  const others = added.filter((id) => id !== adder);
  if (others.length === 0) return;
  const refusing = await tx
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        inArray(users.id, others),
        eq(users.groupAdds, GroupAdds.friends),
        sql`not exists (select 1 from ${friends} where ${friends.ownerId} = ${users.id} and ${friends.friendId} = ${adder} and ${friends.status} = ${FriendStatus.added})`,
      ),
    );
  if (refusing.length)
    throw new HttpError(
      403,
      "group_adds_refused",
      `these users accept group adds only from people they added as friends: ${listIds(refusing.map((r) => r.id))}`,
    );
}
