// Reads and writes of the chat store shared by the room routes. Each takes either the request's
// database or an open transaction, so a handler can keep a check and the write it guards together.
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database, Exec, Tx } from "../../db/client.js";
import { isActiveMember } from "../../db/membership.js";
import { BlockStatus, MemberRole, MemberStatus, RoomStatus, RoomType, UserStatus } from "../../db/codes.js";
import {
  chatMembers,
  chatRoomMetadata,
  chatRoomRoles,
  chatRooms,
  userBlock,
  users,
  type MemberRow,
  type RoomRow,
} from "../../db/schema/index.js";
import type { Room } from "../../protocol/index.js";
import { forbidden, notFound } from "../http/errors.js";
import {
  DIRECT_MEMBER_PERMISSIONS,
  GROUP_ROLE_PERMISSIONS,
  NO_PERMISSIONS,
  roleCode,
  type Permissions,
} from "./permissions.js";
import { toRoom } from "./serialize.js";

export type { Exec, Tx };

/** Active members of the room in the outer query's chat_rooms row (a correlated count, one round trip). */
export const activeMemberCount = sql<number>`(select count(*)::int from chat_members m where m.room_id = ${chatRooms.id} and m.status = ${MemberStatus.active} and m.left_at is null)`;

export { isActiveMember };

export interface Access {
  room: RoomRow;
  member: MemberRow;
  perms: Permissions;
}

/**
 * The room and the caller's active membership with its permissions: 404 when the room does not
 * exist (or is no longer active), 403 when the caller is not (or no longer) a member. With
 * `lock`, the room row stays locked until the transaction ends; every membership change takes
 * this lock first, so member counts, ownership and membership_version change one at a time.
 */
export async function requireMember(
  exec: Exec,
  roomId: string,
  userId: string,
  opts: { lock?: boolean } = {},
): Promise<Access> {
  const query = exec
    .select({ room: chatRooms, member: chatMembers, perms: chatRoomRoles })
    .from(chatRooms)
    .leftJoin(chatMembers, and(eq(chatMembers.roomId, chatRooms.id), eq(chatMembers.userId, userId), isActiveMember))
    .leftJoin(chatRoomRoles, and(eq(chatRoomRoles.roomId, chatRooms.id), eq(chatRoomRoles.role, chatMembers.role)))
    .where(eq(chatRooms.id, roomId));
  const [row] = opts.lock ? await query.for("update", { of: chatRooms }) : await query;
  if (!row || row.room.status !== RoomStatus.active) throw notFound("no such room");
  if (!row.member) throw forbidden("you are not a member of this room");
  const perms = row.perms ?? NO_PERMISSIONS;
  return { room: row.room, member: row.member, perms };
}

export async function roomView(exec: Exec, roomId: string, viewerId: string): Promise<Room> {
  const [row] = await exec
    .select({ room: chatRooms, meta: chatRoomMetadata, memberCount: activeMemberCount })
    .from(chatRooms)
    .leftJoin(chatRoomMetadata, eq(chatRoomMetadata.roomId, chatRooms.id))
    .where(eq(chatRooms.id, roomId));
  if (!row) throw notFound("no such room");
  return toRoom(row.room, row.meta, row.memberCount, viewerId);
}

/** Of `ids`, those that are not active users (unknown, suspended or deleted). */
export async function inactiveUsersAmong(exec: Exec, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await exec
    .select({ id: users.id })
    .from(users)
    .where(and(inArray(users.id, ids), eq(users.status, UserStatus.active)));
  const active = new Set(found.map((r) => r.id));
  return ids.filter((id) => !active.has(id));
}

/**
 * Of `ids`, those who have blocked `target`. The same question as users/blocks.ts whoBlocked,
 * asked inside a transaction (that helper takes the request's database only).
 */
/** Lists ids in an error message without making the message as long as the request. */
export function listIds(ids: string[], max = 10): string {
  const shown = ids.slice(0, max).join(", ");
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/**
 * Records a membership change: membership_version + 1 (the ChatRoom Durable Object applies
 * versions in order; the realtime issue pushes the new version to it) and the room's activity time.
 */
export async function bumpMembership(tx: Tx, roomId: string): Promise<number> {
  const [row] = await tx
    .update(chatRooms)
    .set({ membershipVersion: sql`${chatRooms.membershipVersion} + 1`, updatedAt: sql`now()` })
    .where(eq(chatRooms.id, roomId))
    .returning({ version: chatRooms.membershipVersion });
  return row?.version ?? 0;
}

export function roleRows(roomId: string, type: number) {
  const toRow = (role: number, p: Permissions) => ({ roomId, role, ...p });
  if (type === RoomType.direct) return [toRow(MemberRole.member, DIRECT_MEMBER_PERMISSIONS)];
  return (Object.keys(GROUP_ROLE_PERMISSIONS) as Array<keyof typeof GROUP_ROLE_PERMISSIONS>).map((name) =>
    toRow(roleCode(name), GROUP_ROLE_PERMISSIONS[name]),
  );
}
