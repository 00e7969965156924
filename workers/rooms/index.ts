// /v1/rooms: direct and group rooms, their metadata, members and roles. PostgreSQL is the source
// of truth for all of it; the handlers check input and permissions, the stores write (every
// membership change bumps chat_rooms.membership_version in its transaction, so the room's Durable
// Object applies changes in order), and commitMembershipChange hands a committed change to the room.
import { Hono } from "hono";
import type { ConfigEnv } from "../../lib/config/index.js";
import { type Database, MemberRole, MemberStatus, RoomType } from "../../db/index.js";
import {
  AddMembersBody,
  CreateRoomBody,
  MAX_GROUP_MEMBERS,
  MemberPatchBody,
  MyRoomSettingsBody,
  RoomListQuery,
  RoomPatchBody,
  type Room,
  type RoomListEntry,
  type RoomMember,
  type RoomMemberDetail,
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
import { enforceRateLimit } from "../http/rate-limit.js";
import { idParam, readJson, readQuery } from "../http/validate.js";
import { roomStub, sessionStub } from "../realtime/room-sync.js";
import { whoBlocked } from "../users/blocks.js";
import { publicUsersById } from "../users/public-user.js";
import {
  activeMemberIds,
  activeMembers,
  addMembers,
  bumpMembershipVersion,
  findActiveMember,
  removeMember,
  setRoles,
  updateMySettings,
  wasMember,
} from "./member-store.js";
import { assertGroupAddsAccepted, assertRoomSeats, maxRoomsPerUser } from "./admission.js";
import { decodeCursor, encodeCursor } from "./list-cursor.js";
import { commitMembershipChange } from "./membership-change.js";
import {
  canRemove,
  describePermissions,
  missingPermissions,
  permissionsForPatch,
  planRoleChange,
  roleName,
} from "./permissions.js";
import { toRoom } from "./serialize.js";
import {
  cleanIfEmpty,
  createGroup,
  hasActiveDirectRoom,
  inactiveUsersAmong,
  openDirectRoom,
  requireMember,
  roomView,
  roomsOf,
  updateRoom,
} from "./store.js";

// Postgres prints uuids in lower case and the zod schema accepts either case: compare one form.
const lower = (id: string) => id.toLowerCase();
const roomIdOf = (c: Parameters<typeof idParam>[0]) => lower(idParam(c, "id"));
const userIdOf = (c: Parameters<typeof idParam>[0]) => lower(idParam(c, "user_id"));

/** Lists ids in an error message without making the message as long as the request. */
function listIds(ids: string[], max = 10): string {
  const shown = ids.slice(0, max).join(", ");
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

export const roomsRoutes = new Hono<AppBindings>();

roomsRoutes.post("/", async (c) => {
  const body = await readJson(c, CreateRoomBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  await enforceRateLimit(c, "room_create", me);
  const cap = maxRoomsPerUser(c.env as unknown as ConfigEnv);
  if (body.type === "direct") {
    const peer = lower(body.peer_id);
    const { room, created, revived } = await openDirect(db, me, peer, cap);
    // a revived direct room never had a message (only unused ones are cleaned): new either way
    if (created || revived)
      await commitMembershipChange(c, room.id, [{ userIds: [me, peer], event: "created" }], { created: true });
    return c.json({ room } satisfies RoomResponse, created ? 201 : 200);
  }
  const { room, memberIds } = await newGroup(db, me, body.name, body.member_ids.map(lower), cap);
  await commitMembershipChange(c, room.id, [{ userIds: memberIds, event: "created" }], { created: true });
  return c.json({ room } satisfies RoomResponse, 201);
});

async function openDirect(
  db: Database,
  me: string,
  peerId: string,
  cap: number,
): Promise<{ room: Room; created: boolean; revived: boolean }> {
  if (peerId === me) throw invalid("a direct room needs another person; peer_id is your own id");
  if ((await inactiveUsersAmong(db, [peerId])).length) throw notFound("no such user");
  if ((await whoBlocked(db, me, [peerId])).size) throw forbidden("this user does not accept a direct room with you");
  return db.transaction(async (tx) => {
    // a pair's room that exists costs nobody a seat; a new (or revived) one costs both
    if (!(await hasActiveDirectRoom(tx, me, peerId))) await assertRoomSeats(tx, [me, peerId], cap, me);
    return openDirectRoom(tx, me, peerId);
  });
}

async function newGroup(
  db: Database,
  me: string,
  name: string,
  memberIds: string[],
  cap: number,
): Promise<{ room: Room; memberIds: string[] }> {
  const others = [...new Set(memberIds)].filter((id) => id !== me);
  // CreateRoomBody already caps member_ids at 999; kept so the rule holds if that schema changes
  if (others.length + 1 > MAX_GROUP_MEMBERS)
    throw invalid(`a group has at most ${MAX_GROUP_MEMBERS} members, the creator included`);
  const inactive = await inactiveUsersAmong(db, others);
  if (inactive.length) throw notFound(`unknown or inactive users: ${listIds(inactive)}`);
  const blockers = [...(await whoBlocked(db, me, others))];
  if (blockers.length) throw forbidden(`these users do not accept invitations from you: ${listIds(blockers)}`);
  const room = await db.transaction(async (tx) => {
    await assertGroupAddsAccepted(tx, me, others);
    await assertRoomSeats(tx, [me, ...others], cap, me);
    return createGroup(tx, me, name, others);
  });
  return { room, memberIds: [me, ...others] };
}

roomsRoutes.get("/", async (c) => {
  const { limit, cursor } = readQuery(c, RoomListQuery);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const { rows, next } = await roomsOf(db, me, { limit, ...(cursor ? { after: decodeCursor(cursor) } : {}) });
  // last message and offsets come from the user's session (its per-room cache, refreshed from
  // the rooms when it is not online); PostgreSQL's copy of read_seq is the fallback
  let summaries: Record<string, RoomSummary> = {};
  try {
    if (rows.length) summaries = await sessionStub(c.env, me).summaries(rows.map((r) => r.room.id));
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
  return c.json({ rooms, next_cursor: next ? encodeCursor(next) : null } satisfies RoomListResponse);
});

roomsRoutes.get("/:id", async (c) => {
  const roomId = roomIdOf(c);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  await requireMember(db, roomId, me);
  const [room, rows] = await Promise.all([roomView(db, roomId, me), activeMembers(db, roomId)]);
  // the user store apart from the chat store (no join across stores): one lookup for every member
  const names = await publicUsersById(
    db,
    rows.map((r) => r.userId),
  );
  const members: RoomMemberDetail[] = rows.map((r) => ({
    user_id: r.userId,
    role: roleName(r.role),
    handle: names.get(r.userId)?.handle ?? "",
    display_name: names.get(r.userId)?.display_name ?? "",
  }));
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

    await updateRoom(tx, roomId, patch, me);
    return roomView(tx, roomId, me);
  });
  c.executionCtx.waitUntil(
    roomStub(c.env, roomId)
      .notifyUpdated(patch.name)
      .catch((err: unknown) => console.warn("room update not announced", err)),
  );
  return c.json({ room } satisfies RoomResponse);
});

roomsRoutes.post("/:id/members", async (c) => {
  const roomId = roomIdOf(c);
  const body = await readJson(c, AddMembersBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  await enforceRateLimit(c, "member_add", me);
  const wanted = [...new Set(body.user_ids.map(lower))];
  const answer = await db.transaction(async (tx): Promise<AddMembersResponse> => {
    // Locked first: concurrent adds queue here, and each counts the members the previous one
    // committed, so together they can never pass the limit.
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (access.room.roomType === RoomType.direct)
      throw forbidden("a direct room has exactly two members; start a group instead");
    if (!access.perms.canInvite) throw forbidden(`your role (${roleName(access.member.role)}) may not add members`);

    const current = await activeMemberIds(tx, roomId);
    const present = new Set(current);
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
    await assertGroupAddsAccepted(tx, me, fresh);
    await assertRoomSeats(tx, fresh, maxRoomsPerUser(c.env as unknown as ConfigEnv));

    await addMembers(tx, roomId, fresh);
    return { room: await roomView(tx, roomId, me), added: fresh };
  });
  if (answer.added.length) await commitMembershipChange(c, roomId, [{ userIds: answer.added, event: "member_added" }]);
  return c.json(answer);
});

roomsRoutes.delete("/:id/members/:user_id", async (c) => {
  const roomId = roomIdOf(c);
  const target = userIdOf(c);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const outcome = await db.transaction(async (tx): Promise<"removed" | "already_gone"> => {
    const access = await requireMember(tx, roomId, me, { lock: true });
    if (access.room.roomType === RoomType.direct)
      throw forbidden("nobody leaves a direct room; hide it with PATCH /rooms/:id/me");
    const leaving = target === me;
    let targetRow = access.member;
    if (!leaving) {
      const row = await findActiveMember(tx, roomId, target);
      if (!row) {
        // only someone who could have removed them makes the room push again
        if (access.perms.canKick && (await wasMember(tx, roomId, target))) return "already_gone";
        throw notFound("that user is not a member of this room");
      }
      if (!access.perms.canKick) throw forbidden(`your role (${roleName(access.member.role)}) may not remove members`);
      if (!canRemove({ role: access.member.role, canKick: access.perms.canKick }, row.role)) {
        throw forbidden(`you can only remove members below your role (${roleName(access.member.role)})`);
      }
      targetRow = row;
    }
    await removeMember(tx, roomId, targetRow, leaving ? MemberStatus.left : MemberStatus.removed);
    await cleanIfEmpty(tx, roomId);
    return "removed";
  });
  if (outcome === "already_gone") {
    // A repeat after a 503 (the room had not applied the removal): push again, so the room's copy
    // catches up even if its durable retry has not yet; a room that is current ignores it.
    await commitMembershipChange(c, roomId);
    throw notFound("that user is not a member of this room");
  }
  await commitMembershipChange(c, roomId, [{ userIds: [target], event: "member_removed" }]);
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
      const row = await findActiveMember(tx, roomId, target);
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
        await setRoles(tx, roomId, [{ memberId: targetRow.id, role: plan.role }]);
        break;
      case "transfer":
        await setRoles(tx, roomId, [
          { memberId: targetRow.id, role: MemberRole.owner },
          { memberId: access.member.id, role: MemberRole.admin },
        ]);
        break;
    }
    return { user_id: target, role };
  });
  await commitMembershipChange(c, roomId);
  return c.json({ member } satisfies MemberResponse);
});

roomsRoutes.patch("/:id/me", async (c) => {
  const roomId = roomIdOf(c);
  const body = await readJson(c, MyRoomSettingsBody);
  const db = dbOf(c);
  const me = c.get("auth").userId;
  const { row, changed } = await db.transaction(async (tx) => {
    const access = await requireMember(tx, roomId, me, { lock: true });
    const row = await updateMySettings(tx, access.member.id, body);
    // left (or was removed) between the two statements
    if (!row) throw forbidden("you are not a member of this room");
    // the room decides who hears of a message and who is pushed: it must learn that this member
    // hid or muted it (a new membership version, so the room applies it in order)
    const changed = row.hidden !== access.member.hidden || row.muted !== access.member.muted;
    if (changed) await bumpMembershipVersion(tx, roomId);
    return { row, changed };
  });
  // the user's other devices hear of it too (a `room` frame, event `settings`), after the room applied it
  if (changed) await commitMembershipChange(c, roomId, [{ userIds: [me], event: "settings" }]);
  return c.json({ muted: row.muted, hidden: row.hidden } satisfies MyRoomSettings);
});
