// Who may do what in this room, answered once for every door: history, opening a stream, and
// each frame on it. Pure over the room's own copy of its members and blocks.
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

export type Denied = { ok: false; status: 403 | 404; code: "not_found" | "forbidden"; message: string };
export type Access = { ok: true; member: MemberState } | Denied;

export interface AccessFacts {
  meta: RoomMeta | null;
  member: MemberState | null;
  blocks: ReadonlyArray<readonly [string, string]>;
}

/** In a direct room a block in either direction stops sending; the blocked person also stops reading. */
export function blockedFrom(
  blocks: ReadonlyArray<readonly [string, string]>,
  type: "direct" | "group",
  userId: string,
): { send: boolean; read: boolean } {
  if (type !== "direct" || blocks.length === 0) return { send: false, read: false };
  const isBlocked = blocks.some(([, blocked]) => blocked === userId);
  return { send: true, read: isBlocked };
}

const deny = (status: 403 | 404, message: string): Denied => ({
  ok: false,
  status,
  code: status === 404 ? "not_found" : "forbidden",
  message,
});

/** May this user read the room (history, a stream, frames on it)? */
export function readAccess(f: AccessFacts, userId: string): Access {
  if (!f.meta?.active) return deny(404, "no such room");
  if (!f.member) return deny(403, "you are not a member of this room");
  if (blockedFrom(f.blocks, f.meta.type, userId).read) return deny(403, "you can no longer read this room");
  return { ok: true, member: f.member };
}

/** Roles that may mention everyone, or delete anyone's message, when the room's copy predates the permission (its default). */
const MODERATOR_ROLES = new Set(["owner", "admin"]);

/** May this member send `mention_all` (notify every member)? A permission of their role. */
export function mayMentionAll(member: Pick<MemberState, "role" | "can_mention_all">): boolean {
  return member.can_mention_all ?? MODERATOR_ROLES.has(member.role);
}

/** May this member delete other members' messages (moderation)? A permission of their role; everyone may delete their own. */
export function mayDeleteAny(member: Pick<MemberState, "role" | "can_delete_any">): boolean {
  return member.can_delete_any ?? MODERATOR_ROLES.has(member.role);
}

/** May this reader also send? (Read access first: a member who may not read may not send.) */
export function sendAccess(f: AccessFacts, userId: string): Access {
  const read = readAccess(f, userId);
  if (!read.ok) return read;
  if (!read.member.can_send) return deny(403, "your role may not send in this room");
  if (blockedFrom(f.blocks, f.meta!.type, userId).send) return deny(403, "this direct room is blocked");
  return read;
}
