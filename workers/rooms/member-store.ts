// Reads and writes of a room's members, its role permissions and its membership version. A write
// that changes who is in a room or what role they hold bumps the version itself, once, in the
// caller's transaction: the change and its version commit together or not at all, and no caller
// can forget the bump. membership-change.ts hands the committed state to the room afterwards.
import { and, desc, eq, sql, type SQL } from "drizzle-orm";
import {
  type Exec,
  type Tx,
  MemberRole,
  MemberStatus,
  RoomType,
  isActiveMember,
  chatMembers,
  chatRoomRoles,
  chatRooms,
  type MemberRow,
} from "../../db/index.js";
import {
  DIRECT_MEMBER_PERMISSIONS,
  GROUP_ROLE_PERMISSIONS,
  nextOwner,
  roleCode,
  type Permissions,
} from "./permissions.js";
import { directKey } from "./serialize.js";

const activeIn = (roomId: string) => and(eq(chatMembers.roomId, roomId), isActiveMember);

async function bumpWhere(tx: Tx, where: SQL) {
  const [row] = await tx
    .update(chatRooms)
    .set({ membershipVersion: sql`${chatRooms.membershipVersion} + 1`, updatedAt: sql`now()` })
    .where(where)
    .returning({ id: chatRooms.id, membershipVersion: chatRooms.membershipVersion });
  return row ?? null;
}

/**
 * Records a membership change: membership_version + 1 (the ChatRoom Durable Object applies
 * versions in order and ignores older ones) and the room's activity time.
 */
export async function bumpMembership(tx: Tx, roomId: string): Promise<number> {
  return (await bumpWhere(tx, eq(chatRooms.id, roomId)))?.membershipVersion ?? 0;
}

/**
 * A new membership version for a member's own setting the room must know (hidden): not room
 * activity, so the room keeps its place in everyone's list.
 */
export async function bumpMembershipVersion(tx: Tx, roomId: string): Promise<void> {
  await tx
    .update(chatRooms)
    .set({ membershipVersion: sql`${chatRooms.membershipVersion} + 1` })
    .where(eq(chatRooms.id, roomId));
}

/** The same for the pair's direct room, if they have one: a block between them changes who may use it. */
export async function bumpDirectRoom(tx: Tx, a: string, b: string) {
  return bumpWhere(tx, eq(chatRooms.directKey, directKey(a, b)));
}

export async function insertRoles(tx: Tx, roomId: string, type: number): Promise<void> {
  const toRow = (role: number, p: Permissions) => ({ roomId, role, ...p });
  const rows =
    type === RoomType.direct
      ? [toRow(MemberRole.member, DIRECT_MEMBER_PERMISSIONS)]
      : (Object.keys(GROUP_ROLE_PERMISSIONS) as Array<keyof typeof GROUP_ROLE_PERMISSIONS>).map((name) =>
          toRow(roleCode(name), GROUP_ROLE_PERMISSIONS[name]),
        );
  await tx.insert(chatRoomRoles).values(rows);
}

/** The first members of a room that has none yet. */
export async function insertMembers(tx: Tx, roomId: string, members: Array<{ userId: string; role: number }>) {
  await tx
    .insert(chatMembers)
    .values(members.map(({ userId, role }) => ({ roomId, userId, role, status: MemberStatus.active, joinedSeq: 0 })));
}

/** Makes the pair active members of their direct room again; how many rows that changed. */
export async function reviveMembers(tx: Tx, roomId: string, pair: string[]): Promise<number> {
  const revived = await tx
    .insert(chatMembers)
    .values(pair.map((userId) => ({ roomId, userId, role: MemberRole.member, status: MemberStatus.active })))
    .onConflictDoUpdate({
      target: [chatMembers.roomId, chatMembers.userId],
      set: { status: MemberStatus.active, leftAt: null, updatedAt: sql`now()` },
      setWhere: sql`${chatMembers.status} <> ${MemberStatus.active} or ${chatMembers.leftAt} is not null`,
    })
    .returning({ id: chatMembers.id });
  return revived.length;
}

/** Adds users who are not active members; someone who left or was removed comes back as a fresh member. */
export async function addMembers(tx: Tx, roomId: string, userIds: string[]): Promise<void> {
  // a fresh member: new role, join time and settings
  const rejoin = {
    status: MemberStatus.active,
    role: MemberRole.member,
    leftAt: null,
    joinedAt: sql`now()`,
    muted: false,
    hidden: false,
    // the room records where this membership starts once it hears of it
    joinedSeq: null,
    updatedAt: sql`now()`,
  };
  await tx
    .insert(chatMembers)
    .values(userIds.map((userId) => ({ roomId, userId, role: MemberRole.member, status: MemberStatus.active })))
    .onConflictDoUpdate({ target: [chatMembers.roomId, chatMembers.userId], set: rejoin });
  await bumpMembership(tx, roomId);
}

/** Active members by rank (owner first), then tenure: the order GET /rooms/:id lists them in. */
export async function activeMembers(exec: Exec, roomId: string): Promise<Array<{ userId: string; role: number }>> {
  return exec
    .select({ userId: chatMembers.userId, role: chatMembers.role })
    .from(chatMembers)
    .where(activeIn(roomId))
    .orderBy(desc(chatMembers.role), chatMembers.joinedAt, chatMembers.userId);
}

export async function activeMemberIds(exec: Exec, roomId: string): Promise<string[]> {
  const rows = await exec.select({ userId: chatMembers.userId }).from(chatMembers).where(activeIn(roomId));
  return rows.map((r) => r.userId);
}

export async function findActiveMember(exec: Exec, roomId: string, userId: string): Promise<MemberRow | undefined> {
  const [row] = await exec
    .select()
    .from(chatMembers)
    .where(and(eq(chatMembers.roomId, roomId), eq(chatMembers.userId, userId), isActiveMember));
  return row;
}

/** Was this user ever a member (now left or removed)? Their removal may not have reached the room yet. */
export async function wasMember(exec: Exec, roomId: string, userId: string): Promise<boolean> {
  const [row] = await exec
    .select({ id: chatMembers.id })
    .from(chatMembers)
    .where(and(eq(chatMembers.roomId, roomId), eq(chatMembers.userId, userId)));
  return row !== undefined;
}

/**
 * Ends a membership (the row stays, a logical delete kept for recovery and audit). A group keeps
 * an owner while it has members: when the owner leaves, nextOwner picks the heir; the last one
 * out leaves it empty.
 */
export async function removeMember(
  tx: Tx,
  roomId: string,
  member: MemberRow,
  status: typeof MemberStatus.left | typeof MemberStatus.removed,
): Promise<void> {
  await tx
    .update(chatMembers)
    .set({ status, leftAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(chatMembers.id, member.id));
  if (status === MemberStatus.left && member.role === MemberRole.owner) {
    const rest = await tx
      .select({
        id: chatMembers.id,
        userId: chatMembers.userId,
        role: chatMembers.role,
        joinedAt: chatMembers.joinedAt,
      })
      .from(chatMembers)
      .where(activeIn(roomId));
    const heir = nextOwner(rest);
    if (heir) await updateRole(tx, heir.id, MemberRole.owner);
  }
  await bumpMembership(tx, roomId);
}

/** Gives members new roles, as one change (an ownership transfer is two). */
export async function setRoles(tx: Tx, roomId: string, changes: Array<{ memberId: string; role: number }>) {
  for (const { memberId, role } of changes) await updateRole(tx, memberId, role);
  await bumpMembership(tx, roomId);
}

async function updateRole(tx: Tx, memberId: string, role: number): Promise<void> {
  await tx
    .update(chatMembers)
    .set({ role, updatedAt: sql`now()` })
    .where(eq(chatMembers.id, memberId));
}

/** A member's own settings for the room; undefined when the membership ended in the meantime. */
export async function updateMySettings(exec: Exec, memberId: string, settings: { muted?: boolean; hidden?: boolean }) {
  const [row] = await exec
    .update(chatMembers)
    .set({
      ...(settings.muted !== undefined ? { muted: settings.muted } : {}),
      ...(settings.hidden !== undefined ? { hidden: settings.hidden } : {}),
      updatedAt: sql`now()`,
    })
    .where(and(eq(chatMembers.id, memberId), isActiveMember))
    .returning({ muted: chatMembers.muted, hidden: chatMembers.hidden });
  return row;
}
