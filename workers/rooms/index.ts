// /v1/rooms: direct and group rooms, their metadata, members and roles. PostgreSQL is the source
// of truth for all of it; every membership change bumps chat_rooms.membership_version in the
// same transaction so the room's Durable Object can apply changes in order (realtime issue).
// Deletes are logical (status + left_at), kept for recovery and audit.
import { and, desc, eq, ne, sql } from "drizzle-orm";
import { Hono } from "hono";
import type { Database } from "../../db/client.js";
import { MemberRole, MemberStatus, RoomStatus, RoomType, UserStatus } from "../../db/codes.js";
import {
  chatMembers,
  chatRoomMetadata,
  chatRoomMetadataHistory,
  chatRoomRoles,
  chatRooms,
  users,
} from "../../db/schema/index.js";
import {
  AddMembersBody,
  CreateRoomBody,
  MAX_GROUP_MEMBERS,
  MemberPatchBody,
  MyRoomSettingsBody,
  RoomPatchBody,
  type Room,
  type RoomListEntry,
  type RoomMember,
  type RoomSummary,
} from "../../protocol/index.js";
import type {
  AddMembersResponse,
  MemberResponse,
  MyRoomSettings,
  RoomDetailResponse,
  RoomListResponse,
  RoomResponse,
} from "../../protocol/rooms.js";
import type { AppBindings } from "../env.js";
import { dbOf } from "../http/db.js";
import { HttpError, forbidden, invalid, notFound } from "../http/errors.js";
import { idParam, readJson } from "../http/validate.js";
import { notifySessions, pushRoomState, roomStub, sessionStub } from "../realtime/room-sync.js";
import { whoBlocked } from "../users/blocks.js";
import {
  canRemove,
  describePermissions,
  missingPermissions,
  nextOwner,
  permissionsForPatch,
  planRoleChange,
  roleName,
} from "./permissions.js";
import { directKey, toRoom } from "./serialize.js";
import {
  activeMemberCount,
  bumpMembership,
  inactiveUsersAmong,
  isActiveMember,
  listIds,
  requireMember,
  roleRows,
  roomView,
  type Tx,
} from "./store.js";

// Postgres prints uuids in lower case and the zod schema accepts either case: compare one form.
const lower = (id: string) => id.toLowerCase();
const roomIdOf = (c: Parameters<typeof idParam>[0]) => lower(idParam(c, "id"));
const userIdOf = (c: Parameters<typeof idParam>[0]) => lower(idParam(c, "user_id"));

export const roomsRoutes = new Hono<AppBindings>();

roomsRoutes.post("/", async (c) => {
  const body = await readJson(c, CreateRoomBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  if (body.type === "direct") {
    const peer = lower(body.peer_id);
    const { room, created, revived } = await openDirectRoom(db, me, peer);
    if (created || revived) {
      await pushRoomState(c.env, db, room.id, c.executionCtx);
      notifySessions(c.env, c.executionCtx, [me, peer], room.id, "created");
    }
    return c.json({ room } satisfies RoomResponse, created ? 201 : 200);
  }
  const { room, memberIds } = await createGroup(db, me, body.name, body.member_ids.map(lower));
  await pushRoomState(c.env, db, room.id, c.executionCtx);
  notifySessions(c.env, c.executionCtx, memberIds, room.id, "created");
  return c.json({ room } satisfies RoomResponse, 201);
});

async function openDirectRoom(
  db: Database,
  me: string,
  peerId: string,
): Promise<{ room: Room; created: boolean; revived: boolean }> {
  if (peerId === me) throw invalid("a direct room needs another person; peer_id is your own id");
  const [peer] = await db.select({ id: users.id, status: users.status }).from(users).where(eq(users.id, peerId));
  if (!peer || peer.status !== UserStatus.active) throw notFound("no such user");
  if ((await whoBlocked(db, me, [peerId])).size) throw forbidden("this user does not accept a direct room with you");

  const key = directKey(me, peerId);
  return db.transaction(async (tx) => {
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
      await tx.insert(chatRoomRoles).values(roleRows(created.id, RoomType.direct));
      await tx.insert(chatMembers).values(
        [me, peerId].map((userId) => ({
          roomId: created.id,
          userId,
          role: MemberRole.member,
          status: MemberStatus.active,
        })),
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
  });
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
  const revived = await tx
    .insert(chatMembers)
    .values(pair.map((userId) => ({ roomId, userId, role: MemberRole.member, status: MemberStatus.active })))
    .onConflictDoUpdate({
      target: [chatMembers.roomId, chatMembers.userId],
      set: { status: MemberStatus.active, leftAt: null, updatedAt: sql`now()` },
      setWhere: sql`${chatMembers.status} <> ${MemberStatus.active} or ${chatMembers.leftAt} is not null`,
    })
    .returning({ id: chatMembers.id });
  // the version moves even when no membership row changed: the room's object must learn it is active again
  await bumpMembership(tx, roomId);
  return revived.length > 0 || claimed.length > 0;
}

async function createGroup(
  db: Database,
  me: string,
  name: string,
  memberIds: string[],
): Promise<{ room: Room; memberIds: string[] }> {
  const others = [...new Set(memberIds)].filter((id) => id !== me);
  // CreateRoomBody already caps member_ids at 999; kept so the rule holds if that schema changes
  if (others.length + 1 > MAX_GROUP_MEMBERS)
    throw invalid(`a group has at most ${MAX_GROUP_MEMBERS} members, the creator included`);
  const inactive = await inactiveUsersAmong(db, others);
  if (inactive.length) throw notFound(`unknown or inactive users: ${listIds(inactive)}`);
  const blockers = [...(await whoBlocked(db, me, others))];
  if (blockers.length) throw forbidden(`these users do not accept invitations from you: ${listIds(blockers)}`);

  return db.transaction(async (tx) => {
    const [room] = await tx
      .insert(chatRooms)
      .values({ roomType: RoomType.group, status: RoomStatus.active, name, createdBy: me, membershipVersion: 1 })
      .returning();
    if (!room) throw new Error("insert into chat_rooms returned no row");
    const [meta] = await tx.insert(chatRoomMetadata).values({ roomId: room.id, updatedBy: me }).returning();
    // history holds every state including the first, so the original name is never lost
    await tx.insert(chatRoomMetadataHistory).values({ roomId: room.id, name, changedBy: me });
    await tx.insert(chatRoomRoles).values(roleRows(room.id, RoomType.group));
    await tx
      .insert(chatMembers)
      .values([
        { roomId: room.id, userId: me, role: MemberRole.owner, status: MemberStatus.active },
        ...others.map((userId) => ({ roomId: room.id, userId, role: MemberRole.member, status: MemberStatus.active })),
      ]);
    return { room: toRoom(room, meta ?? null, others.length + 1, me), memberIds: [me, ...others] };
  });
}

roomsRoutes.get("/", async (c) => {
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const rows = await db
    .select({
      room: chatRooms,
      meta: chatRoomMetadata,
      memberCount: activeMemberCount,
      readSeq: chatMembers.lastReadSeq,
      muted: chatMembers.muted,
      hidden: chatMembers.hidden,
    })
    .from(chatMembers)
    .innerJoin(chatRooms, eq(chatRooms.id, chatMembers.roomId))
    .leftJoin(chatRoomMetadata, eq(chatRoomMetadata.roomId, chatRooms.id))
    .where(and(eq(chatMembers.userId, me), isActiveMember, eq(chatRooms.status, RoomStatus.active)))
    .orderBy(desc(chatRooms.updatedAt), desc(chatRooms.id));
  // last message and offsets come from the user's session (its per-room cache, refreshed from
  // the rooms when it is not online); PostgreSQL's copy of read_seq is the fallback
  let summaries: Record<string, RoomSummary> = {};
  try {
    if (rows.length)
      summaries = await sessionStub(c.env, me).summaries(rows.map((r) => r.room.id));
  } catch (err) {
    console.warn("room summaries unavailable", err);
  }
  const rooms: RoomListEntry[] = rows.map((r) => {
    const s = summaries[r.room.id];
    const readSeq = s ? s.read_seq : r.readSeq;
    return {
      room: toRoom(r.room, r.meta, r.memberCount, me),
      last_message: s?.last_message ?? null,
      unread_count: s ? Math.max(0, s.last_seq - s.read_seq) : 0,
      read_seq: readSeq,
      muted: r.muted,
      hidden: r.hidden,
    };
  });
  return c.json({ rooms } satisfies RoomListResponse);
});

roomsRoutes.get("/:id", async (c) => {
  const roomId = roomIdOf(c);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  await requireMember(db, roomId, me);
  const [room, rows] = await Promise.all([
    roomView(db, roomId, me),
    db
      .select({ userId: chatMembers.userId, role: chatMembers.role })
      .from(chatMembers)
      .where(and(eq(chatMembers.roomId, roomId), isActiveMember))
      .orderBy(desc(chatMembers.role), chatMembers.joinedAt, chatMembers.userId),
  ]);
  const members: RoomMember[] = rows.map((r) => ({ user_id: r.userId, role: roleName(r.role) }));
  return c.json({ room, members } satisfies RoomDetailResponse);
});

roomsRoutes.patch("/:id", async (c) => {
  const roomId = roomIdOf(c);
  const patch = await readJson(c, RoomPatchBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const needed = permissionsForPatch(patch);
  const room = await db.transaction(async (tx) => {
    // the lock orders concurrent edits, so each history row is the state that edit produced
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (patch.name !== undefined && access.room.roomType === RoomType.direct)
      throw forbidden("a direct room has no name to change");
    const missing = missingPermissions(access.perms, needed);
    if (missing.length)
      throw forbidden(`your role (${roleName(access.member.role)}) may not ${describePermissions(missing)}`);

    const [updated] = await tx
      .update(chatRooms)
      .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), updatedAt: sql`now()` })
      .where(eq(chatRooms.id, roomId))
      .returning();
    const fields = {
      ...(patch.notice !== undefined ? { notice: patch.notice } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.pinned_seq !== undefined ? { pinnedSeq: patch.pinned_seq } : {}),
    };
    // rooms made before metadata rows existed (or by hand) get theirs on first edit
    const [meta] = await tx
      .insert(chatRoomMetadata)
      .values({ roomId, ...fields, updatedBy: me })
      .onConflictDoUpdate({ target: chatRoomMetadata.roomId, set: { ...fields, updatedBy: me, updatedAt: sql`now()` } })
      .returning();
    if (!updated || !meta) throw new Error("room vanished while locked");
    await tx.insert(chatRoomMetadataHistory).values({
      roomId,
      name: updated.name,
      description: meta.description,
      notice: meta.notice,
      pinnedSeq: meta.pinnedSeq,
      changedBy: me,
    });
    return roomView(tx, roomId, me);
  });
  c.executionCtx.waitUntil(
    roomStub(c.env, roomId)
      .notifyUpdated()
      .catch((err: unknown) => console.warn("room update not announced", err)),
  );
  return c.json({ room } satisfies RoomResponse);
});

roomsRoutes.post("/:id/members", async (c) => {
  const roomId = roomIdOf(c);
  const body = await readJson(c, AddMembersBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const wanted = [...new Set(body.user_ids.map(lower))];
  const answer = await db.transaction(async (tx): Promise<AddMembersResponse> => {
    // Locked first: concurrent adds queue here, and each counts the members the previous one
    // committed, so together they can never pass the limit.
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (access.room.roomType === RoomType.direct)
      throw forbidden("a direct room has exactly two members; start a group instead");
    if (!access.perms.canInvite) throw forbidden(`your role (${roleName(access.member.role)}) may not add members`);

    const current = await tx
      .select({ userId: chatMembers.userId })
      .from(chatMembers)
      .where(and(eq(chatMembers.roomId, roomId), isActiveMember));
    const present = new Set(current.map((m) => m.userId));
    const fresh = wanted.filter((id) => !present.has(id));
    if (fresh.length === 0) return { room: await roomView(tx, roomId, me), added: [] };

    const inactive = await inactiveUsersAmong(tx, fresh);
    if (inactive.length) throw notFound(`unknown or inactive users: ${listIds(inactive)}`);
    const blockers = [...(await whoBlocked(tx, me, fresh))];
    if (blockers.length) throw forbidden(`these users do not accept invitations from you: ${listIds(blockers)}`);
    if (current.length + fresh.length > MAX_GROUP_MEMBERS) {
      const seats = MAX_GROUP_MEMBERS - current.length;
      throw new HttpError(
        409,
        "conflict",
        `the room has ${current.length} of at most ${MAX_GROUP_MEMBERS} members: ${seats} more can join, not ${fresh.length}`,
      );
    }

    // someone who left or was removed comes back as a fresh member: new role, join time and settings
    const rejoin = {
      status: MemberStatus.active,
      role: MemberRole.member,
      leftAt: null,
      joinedAt: sql`now()`,
      muted: false,
      hidden: false,
      updatedAt: sql`now()`,
    };
    await tx
      .insert(chatMembers)
      .values(fresh.map((userId) => ({ roomId, userId, role: MemberRole.member, status: MemberStatus.active })))
      .onConflictDoUpdate({ target: [chatMembers.roomId, chatMembers.userId], set: rejoin });
    await bumpMembership(tx, roomId);
    return { room: await roomView(tx, roomId, me), added: fresh };
  });
  if (answer.added.length) {
    await pushRoomState(c.env, db, roomId, c.executionCtx);
    notifySessions(c.env, c.executionCtx, answer.added, roomId, "member_added");
  }
  return c.json(answer);
});

roomsRoutes.delete("/:id/members/:user_id", async (c) => {
  const roomId = roomIdOf(c);
  const target = userIdOf(c);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  await db.transaction(async (tx) => {
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (access.room.roomType === RoomType.direct)
      throw forbidden("nobody leaves a direct room; hide it with PATCH /rooms/:id/me");
    const leaving = target === me;
    let targetRow = access.member;
    if (!leaving) {
      const [row] = await tx
        .select()
        .from(chatMembers)
        .where(and(eq(chatMembers.roomId, roomId), eq(chatMembers.userId, target), isActiveMember));
      if (!row) throw notFound("that user is not a member of this room");
      if (!access.perms.canKick) throw forbidden(`your role (${roleName(access.member.role)}) may not remove members`);
      if (!canRemove({ role: access.member.role, canKick: access.perms.canKick }, row.role)) {
        throw forbidden(`you can only remove members below your role (${roleName(access.member.role)})`);
      }
      targetRow = row;
    }
    await tx
      .update(chatMembers)
      .set({ status: leaving ? MemberStatus.left : MemberStatus.removed, leftAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(chatMembers.id, targetRow.id));
    if (leaving && targetRow.role === MemberRole.owner) {
      // a group keeps an owner while it has members; the last one out leaves it empty
      const rest = await tx
        .select({
          id: chatMembers.id,
          userId: chatMembers.userId,
          role: chatMembers.role,
          joinedAt: chatMembers.joinedAt,
        })
        .from(chatMembers)
        .where(and(eq(chatMembers.roomId, roomId), isActiveMember));
      const heir = nextOwner(rest);
      if (heir)
        await tx
          .update(chatMembers)
          .set({ role: MemberRole.owner, updatedAt: sql`now()` })
          .where(eq(chatMembers.id, heir.id));
    }
    await bumpMembership(tx, roomId);
  });
  await pushRoomState(c.env, db, roomId, c.executionCtx);
  notifySessions(c.env, c.executionCtx, [target], roomId, "member_removed");
  return c.body(null, 204);
});

roomsRoutes.patch("/:id/members/:user_id", async (c) => {
  const roomId = roomIdOf(c);
  const target = userIdOf(c);
  const { role } = await readJson(c, MemberPatchBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const member = await db.transaction(async (tx): Promise<RoomMember> => {
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (access.room.roomType === RoomType.direct) throw forbidden("a direct room has no roles to change");
    let targetRow = access.member;
    if (target !== me) {
      const [row] = await tx
        .select()
        .from(chatMembers)
        .where(and(eq(chatMembers.roomId, roomId), eq(chatMembers.userId, target), isActiveMember));
      if (!row) throw notFound("that user is not a member of this room");
      targetRow = row;
    }
    const plan = planRoleChange({
      actorRole: access.member.role,
      targetRole: targetRow.role,
      targetIsActor: target === me,
      newRole: role,
    });
    switch (plan.kind) {
      case "refused":
        throw new HttpError(plan.status, plan.status === 400 ? "invalid" : "forbidden", plan.message);
      case "unchanged":
        return { user_id: target, role: roleName(targetRow.role) };
      case "set":
        await tx
          .update(chatMembers)
          .set({ role: plan.role, updatedAt: sql`now()` })
          .where(eq(chatMembers.id, targetRow.id));
        break;
      case "transfer":
        await tx
          .update(chatMembers)
          .set({ role: MemberRole.owner, updatedAt: sql`now()` })
          .where(eq(chatMembers.id, targetRow.id));
        await tx
          .update(chatMembers)
          .set({ role: MemberRole.admin, updatedAt: sql`now()` })
          .where(eq(chatMembers.id, access.member.id));
        break;
    }
    await bumpMembership(tx, roomId);
    return { user_id: target, role };
  });
  await pushRoomState(c.env, db, roomId, c.executionCtx);
  return c.json({ member } satisfies MemberResponse);
});

roomsRoutes.patch("/:id/me", async (c) => {
  const roomId = roomIdOf(c);
  const body = await readJson(c, MyRoomSettingsBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const access = await requireMember(db, roomId, me);
  const [row] = await db
    .update(chatMembers)
    .set({
      ...(body.muted !== undefined ? { muted: body.muted } : {}),
      ...(body.hidden !== undefined ? { hidden: body.hidden } : {}),
      updatedAt: sql`now()`,
    })
    .where(and(eq(chatMembers.id, access.member.id), isActiveMember))
    .returning({ muted: chatMembers.muted, hidden: chatMembers.hidden });
  // left (or was removed) between the two statements
  if (!row) throw forbidden("you are not a member of this room");
  return c.json({ muted: row.muted, hidden: row.hidden } satisfies MyRoomSettings);
});
