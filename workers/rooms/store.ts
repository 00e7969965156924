// Reads and writes of rooms and their metadata for the room routes (members and roles are in
// member-store.ts). Each takes either the request's database or an open transaction, so a handler
// can keep a check and the write it guards together.
import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import {
  type Exec,
  type Tx,
  isActiveMember,
  MemberRole,
  MemberStatus,
  RoomStatus,
  RoomType,
  UserStatus,
  chatMembers,
  chatRoomMetadata,
  chatRoomMetadataHistory,
  chatRoomRoles,
  chatRooms,
  users,
  type MemberRow,
  type RoomRow,
} from "../../db/index.js";
import type { Room } from "../../protocol/index.js";
import { HttpError, forbidden, notFound } from "../http/errors.js";
import { bumpMembership, insertMembers, insertRoles, reviveMembers } from "./member-store.js";
import { NO_PERMISSIONS, type Permissions, type RoomPatch } from "./permissions.js";
import type { ListPosition } from "./list-cursor.js";
import { directKey, toRoom, type MetadataRow } from "./serialize.js";

/** Active members of the room in the outer query's chat_rooms row (a correlated count, one round trip). */
const activeMemberCount = sql<number>`(select count(*)::int from chat_members m where m.room_id = ${chatRooms.id} and m.status = ${MemberStatus.active} and m.left_at is null)`;

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

/** chat_rooms.updated_at in microseconds (PostgreSQL's own precision), the room list's order and cursor */
const activityMicros = sql<string>`(extract(epoch from ${chatRooms.updatedAt}) * 1000000)::bigint`;

/**
 * One page of the active rooms the user is an active member of, with the user's own settings,
 * latest activity first, after `after` (keyset paging: a page costs the same however deep).
 */
export async function roomsOf(exec: Exec, userId: string, page: { limit: number; after?: ListPosition }) {
  const rows = await exec
    .select({
      room: chatRooms,
      meta: chatRoomMetadata,
      memberCount: activeMemberCount,
      readSeq: chatMembers.lastReadSeq,
      muted: chatMembers.muted,
      hidden: chatMembers.hidden,
      activityMicros: sql<string>`${activityMicros}::text`,
    })
    .from(chatMembers)
    .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
    .leftJoin(chatRoomMetadata, eq(chatRoomMetadata.roomId, chatRooms.id))
    .where(
      and(
        eq(chatMembers.userId, userId),
        isActiveMember,
        eq(chatRooms.status, RoomStatus.active),
        page.after
          ? sql`(${activityMicros}, ${chatRooms.id}) < (${page.after.activityMicros}::bigint, ${page.after.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(activityMicros), desc(chatRooms.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  const last = shown[shown.length - 1];
  return { rows: shown, next: more && last ? { activityMicros: last.activityMicros, id: last.room.id } : null };
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

/** Whether the pair has a direct room that is active now (opening it again adds nobody anywhere). */
export async function hasActiveDirectRoom(exec: Exec, a: string, b: string): Promise<boolean> {
  const [row] = await exec
    .select({ id: chatRooms.id })
    .from(chatRooms)
    .where(and(eq(chatRooms.directKey, directKey(a, b)), eq(chatRooms.status, RoomStatus.active)));
  return row !== undefined;
}

/** The pair's direct room: made on first open, and brought back (same id) if it was cleaned up. */
export async function openDirectRoom(
  tx: Tx,
  me: string,
  peerId: string,
): Promise<{ room: Room; created: boolean; revived: boolean }> {
  const key = directKey(me, peerId);
  // The partial unique index on direct_key decides the race: of concurrent creators (either
  // side of the pair) exactly one inserts; the others wait for its commit and insert nothing.
  const [created] = await tx
    .insert(chatRooms)
    .values({
      roomType: RoomType.direct,
      status: RoomStatus.active,
      directKey: key,
      createdBy: me,
      membershipVersion: 1,
    })
    .onConflictDoNothing({ target: chatRooms.directKey, where: sql`direct_key is not null` })
    .returning();
  if (created) {
    await insertRoles(tx, created.id, RoomType.direct);
    await insertMembers(
      tx,
      created.id,
      [me, peerId].map((userId) => ({ userId, role: MemberRole.member })),
    );
    return { room: toRoom(created, null, 2, me), created: true, revived: false };
  }

  // A new statement under READ COMMITTED sees the winner's committed row.
  const [existing] = await tx
    .select({ id: chatRooms.id, status: chatRooms.status })
    .from(chatRooms)
    .where(eq(chatRooms.directKey, key));
  if (!existing) throw new HttpError(503, "unavailable", "the direct room is being created; try again");
  const revived = existing.status !== RoomStatus.active && (await reviveDirectRoom(tx, existing.id, [me, peerId]));
  return { room: await roomView(tx, existing.id, me), created: false, revived };
}

/**
 * A pair's direct room is theirs for good: when it was cleaned up, opening it again brings the
 * same room (and id) back instead of making a second one. Claimed with a conditional update,
 * so of two concurrent openers only one revives memberships and bumps the version.
 */
async function reviveDirectRoom(tx: Tx, roomId: string, pair: string[]): Promise<boolean> {
  const claimed = await tx
    .update(chatRooms)
    .set({ status: RoomStatus.active, updatedAt: sql`now()` })
    .where(and(eq(chatRooms.id, roomId), ne(chatRooms.status, RoomStatus.active)))
    .returning({ id: chatRooms.id });
  if (!claimed.length) return false;
  const revived = await reviveMembers(tx, roomId, pair);
  // the version moves even when no membership row changed: the room's object must learn it is active again
  await bumpMembership(tx, roomId);
  return revived > 0 || claimed.length > 0;
}

/** A new group with its roles, its first metadata state and its members, `me` as the owner. */
export async function createGroup(tx: Tx, me: string, name: string, others: string[]): Promise<Room> {
  const [room] = await tx
    .insert(chatRooms)
    .values({ roomType: RoomType.group, status: RoomStatus.active, name, createdBy: me, membershipVersion: 1 })
    .returning();
  if (!room) throw new Error("insert into chat_rooms returned no row");
  const meta = await saveMetadata(tx, room, {}, me);
  await insertRoles(tx, room.id, RoomType.group);
  await insertMembers(tx, room.id, [
    { userId: me, role: MemberRole.owner },
    ...others.map((userId) => ({ userId, role: MemberRole.member })),
  ]);
  return toRoom(room, meta, others.length + 1, me);
}

/** Applies a room patch: the name on chat_rooms, the rest in its metadata (with a history row). */
export async function updateRoom(tx: Tx, roomId: string, patch: RoomPatch, by: string): Promise<void> {
  const [updated] = await tx
    .update(chatRooms)
    .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), updatedAt: sql`now()` })
    .where(eq(chatRooms.id, roomId))
    .returning();
  if (!updated) throw new Error("room vanished while locked");
  await saveMetadata(
    tx,
    updated,
    {
      ...(patch.notice !== undefined ? { notice: patch.notice } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.pinned_seq !== undefined ? { pinnedSeq: patch.pinned_seq } : {}),
    },
    by,
  );
}

type MetadataFields = Partial<Pick<MetadataRow, "notice" | "description" | "pinnedSeq">>;

/**
 * The one writer of chat_room_metadata: upserts the fields and appends the state they produce to
 * the history, which holds every state including the first, so no earlier name or notice is lost.
 * Callers hold the room's lock (or made the room), so each history row is the state its change produced.
 */
async function saveMetadata(
  tx: Tx,
  room: { id: string; name: string | null },
  fields: MetadataFields,
  by: string,
): Promise<MetadataRow> {
  // rooms made before metadata rows existed (or by hand) get theirs on first edit
  const [meta] = await tx
    .insert(chatRoomMetadata)
    .values({ roomId: room.id, ...fields, updatedBy: by })
    .onConflictDoUpdate({ target: chatRoomMetadata.roomId, set: { ...fields, updatedBy: by, updatedAt: sql`now()` } })
    .returning();
  if (!meta) throw new Error("chat_room_metadata upsert returned no row");
  await tx.insert(chatRoomMetadataHistory).values({
    roomId: room.id,
    name: room.name,
    description: meta.description,
    notice: meta.notice,
    pinnedSeq: meta.pinnedSeq,
    changedBy: by,
  });
  return meta;
}

/**
 * A group whose last member just left is cleaned in the same transaction: nobody can reach it
 * again, so it leaves every list, and its object drops its storage once the archive has it all.
 */
export async function cleanIfEmpty(tx: Tx, roomId: string): Promise<boolean> {
  const rows = await tx
    .update(chatRooms)
    .set({ status: RoomStatus.cleaned, updatedAt: sql`now()` })
    .where(
      and(
        eq(chatRooms.id, roomId),
        eq(chatRooms.status, RoomStatus.active),
        sql`not exists (select 1 from chat_members m where m.room_id = ${chatRooms.id} and m.status = ${MemberStatus.active} and m.left_at is null)`,
      ),
    )
    .returning({ id: chatRooms.id });
  return rows.length > 0;
}
