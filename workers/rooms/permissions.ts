// Who may do what in a room. Pure functions over role codes and permission rows, so the rules
// can be read and tested without a database; the route handlers only load rows and apply them.
import { MemberRole, nameOf, type Code } from "../../db/index.js";
import type { RoleName } from "../../protocol/index.js";

export type RoleCode = Code<typeof MemberRole>;

/** The permission columns of a chat_room_roles row. */
export interface Permissions {
  canSend: boolean;
  canPin: boolean;
  canKick: boolean;
  canEditNotice: boolean;
  canInvite: boolean;
  canRename: boolean;
  canMentionAll: boolean;
  /** delete other members' messages (everyone may edit and delete their own) */
  canDeleteAny: boolean;
}
export type Permission = keyof Permissions;

const ALL: Permissions = {
  canSend: true,
  canPin: true,
  canKick: true,
  canEditNotice: true,
  canInvite: true,
  canRename: true,
  canMentionAll: true,
  canDeleteAny: true,
};

/** A member whose role has no chat_room_roles row gets nothing: a missing row must fail closed. */
export const NO_PERMISSIONS: Permissions = {
  canSend: false,
  canPin: false,
  canKick: false,
  canEditNotice: false,
  canInvite: false,
  canRename: false,
  canMentionAll: false,
  canDeleteAny: false,
};

// Defaults written into chat_room_roles when a group is created. They live in rows (not only
// here) so that a room's rules can be changed later without a deploy. Admins have every
// permission; what separates them from the owner is rank (whom they may remove) and that only
// the owner hands out roles.
export const GROUP_ROLE_PERMISSIONS: Readonly<Record<RoleName, Permissions>> = {
  owner: ALL,
  admin: ALL,
  member: { ...NO_PERMISSIONS, canSend: true, canInvite: true },
};

// Both people in a direct room are plain members with equal say over its notice and pin; a
// direct room never has a name, never grows and nobody can be put out of it.
export const DIRECT_MEMBER_PERMISSIONS: Permissions = {
  ...NO_PERMISSIONS,
  canSend: true,
  canPin: true,
  canEditNotice: true,
};

export function roleName(code: number): RoleName {
  return nameOf(MemberRole, code) as RoleName;
}

export function roleCode(name: RoleName): RoleCode {
  return MemberRole[name];
}

/** The role codes are ordered by rank: owner > admin > member. */
export function outranks(actor: number, target: number): boolean {
  return actor > target;
}

/** Removing someone else needs the kick permission and a strictly higher role. */
export function canRemove(actor: { role: number; canKick: boolean }, targetRole: number): boolean {
  return actor.canKick && outranks(actor.role, targetRole);
}

export interface RoomPatch {
  name?: string;
  notice?: string | null;
  description?: string | null;
  pinned_seq?: number | null;
}

const PATCH_PERMISSION: Record<keyof RoomPatch, Permission> = {
  name: "canRename",
  notice: "canEditNotice",
  description: "canEditNotice",
  pinned_seq: "canPin",
};

/** Every permission a room patch needs, once each, in a stable order. */
export function permissionsForPatch(patch: RoomPatch): Permission[] {
  const needed = new Set<Permission>();
  for (const key of Object.keys(PATCH_PERMISSION) as Array<keyof RoomPatch>) {
    if (patch[key] !== undefined) needed.add(PATCH_PERMISSION[key]);
  }
  return [...needed];
}

export function missingPermissions(have: Permissions, needed: Permission[]): Permission[] {
  return needed.filter((p) => !have[p]);
}

const DESCRIBE: Record<Permission, string> = {
  canSend: "send messages",
  canPin: "pin messages",
  canKick: "remove members",
  canEditNotice: "edit the notice and description",
  canInvite: "add members",
  canRename: "rename the room",
  canMentionAll: "mention everyone",
  canDeleteAny: "delete other members' messages",
};

export function describePermissions(ps: Permission[]): string {
  return ps.map((p) => DESCRIBE[p]).join(", ");
}

export interface OwnerCandidate {
  userId: string;
  role: number;
  joinedAt: Date;
}

/**
 * Who inherits a group when its owner leaves: the longest-standing admin, else the
 * longest-standing member. Members who joined in the same instant (a group's founders share its
 * creation time) are ordered by user id so that the choice never depends on row order.
 */
export function nextOwner<T extends OwnerCandidate>(candidates: readonly T[]): T | undefined {
  const byTenure = (a: T, b: T) =>
    a.joinedAt.getTime() - b.joinedAt.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
  const admins = candidates.filter((c) => c.role === MemberRole.admin).sort(byTenure);
  if (admins.length) return admins[0];
  return candidates.filter((c) => c.role === MemberRole.member).sort(byTenure)[0];
}

export type RoleChange =
  | { kind: "unchanged" }
  | { kind: "set"; role: RoleCode }
  /** the target becomes owner and the acting owner steps down to admin */
  | { kind: "transfer" }
  | { kind: "refused"; status: 400 | 403; message: string };

/** What `PATCH /rooms/:id/members/:user_id {role}` does, given who asks and about whom. */
export function planRoleChange(input: {
  actorRole: number;
  targetRole: number;
  targetIsActor: boolean;
  newRole: RoleName;
}): RoleChange {
  const wanted = roleCode(input.newRole);
  if (input.actorRole !== MemberRole.owner)
    return { kind: "refused", status: 403, message: "only the owner can change roles" };
  if (input.targetIsActor) {
    if (wanted === MemberRole.owner) return { kind: "unchanged" };
    // a group always has exactly one owner: stepping down happens by handing ownership over
    return {
      kind: "refused",
      status: 400,
      message:
        "the owner cannot step down; give the owner role to another member (you become an admin) or leave the room",
    };
  }
  if (wanted === input.targetRole) return { kind: "unchanged" };
  if (wanted === MemberRole.owner) return { kind: "transfer" };
  return { kind: "set", role: wanted };
}
