// A room's membership as PostgreSQL holds it, in the shape its ChatRoom Durable Object keeps:
// read by the rooms API after every change (to push it to the object) and by the object itself
// when it starts without a copy.
import { and, desc, eq } from "drizzle-orm";
import type { RoomSnapshot } from "../protocol/realtime.js";
import type { RoleName } from "../protocol/http.js";
import { activeBlocksBetween } from "./blocks.js";
import type { Exec } from "./client.js";
import { isActiveMember } from "./membership.js";
import { MemberRole, RoomStatus, RoomType, nameOf } from "./codes.js";
import { chatMembers, chatRoomRoles, chatRooms } from "./schema/index.js";

export async function loadRoomSnapshot(db: Exec, roomId: string): Promise<RoomSnapshot | null> {
  const [room] = await db
    .select({
      id: chatRooms.id,
      type: chatRooms.roomType,
      name: chatRooms.name,
      status: chatRooms.status,
      version: chatRooms.membershipVersion,
    })
    .from(chatRooms)
    .where(eq(chatRooms.id, roomId));
  if (!room) return null;
  const members = await db
    .select({
      userId: chatMembers.userId,
      role: chatMembers.role,
      joinedAt: chatMembers.joinedAt,
      hidden: chatMembers.hidden,
      muted: chatMembers.muted,
      canSend: chatRoomRoles.canSend,
      canMentionAll: chatRoomRoles.canMentionAll,
      canDeleteAny: chatRoomRoles.canDeleteAny,
    })
    .from(chatMembers)
    .leftJoin(
      chatRoomRoles,
      and(eq(chatRoomRoles.roomId, chatMembers.roomId), eq(chatRoomRoles.role, chatMembers.role)),
    )
    .where(and(eq(chatMembers.roomId, roomId), isActiveMember));
  const ids = members.map((m) => m.userId);
  // Only a direct room is shut by a block; in a group, blocking someone hides nothing the group shares.
  const blocks =
    room.type === RoomType.direct && ids.length === 2 ? await activeBlocksBetween(db, ids[0]!, [ids[1]!]) : [];
  return {
    room_id: room.id,
    version: room.version,
    type: room.type === RoomType.direct ? "direct" : "group",
    active: room.status === RoomStatus.active,
    name: room.type === RoomType.direct ? null : room.name,
    members: members.map((m) => ({
      user_id: m.userId,
      role: nameOf(MemberRole, m.role) as RoleName,
      can_send: m.canSend ?? false,
      can_mention_all: m.canMentionAll ?? false,
      can_delete_any: m.canDeleteAny ?? false,
      joined_at: m.joinedAt.toISOString(),
      hidden: m.hidden,
      muted: m.muted,
    })),
    blocks: blocks.map((b) => [b.blocker, b.blocked] as [string, string]),
  };
}

/** Marks a room cleaned up (its object found it empty and idle); a direct room comes back on the next open. */
export async function markRoomCleaned(db: Exec, roomId: string): Promise<boolean> {
  const rows = await db
    .update(chatRooms)
    .set({ status: RoomStatus.cleaned })
    .where(and(eq(chatRooms.id, roomId), eq(chatRooms.status, RoomStatus.active)))
    .returning({ id: chatRooms.id });
  return rows.length > 0;
}

/**
 * Room ids a user is an active member of, latest activity first; with `limit`, only that many
 * (what their session subscribes to when it comes online).
 */
export async function activeRoomIdsOf(db: Exec, userId: string, limit?: number): Promise<string[]> {
  const query = db
    .select({ id: chatRooms.id })
    .from(chatMembers)
    .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
    .where(and(eq(chatMembers.userId, userId), isActiveMember, eq(chatRooms.status, RoomStatus.active)))
    .orderBy(desc(chatRooms.updatedAt), desc(chatRooms.id));
  const rows = limit === undefined ? await query : await query.limit(limit);
  return rows.map((r) => r.id);
}
