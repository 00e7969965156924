// Pure rules of rooms: no workerd, no database.
import { describe, expect, it } from "vitest";
import { MemberRole, RoomType, type RoomRow } from "../../db/index.js";
import {
  DIRECT_MEMBER_PERMISSIONS,
  GROUP_ROLE_PERMISSIONS,
  NO_PERMISSIONS,
  canRemove,
  missingPermissions,
  nextOwner,
  permissionsForPatch,
  planRoleChange,
  roleCode,
  roleName,
} from "./permissions.js";
import { directKey, peerOf, toRoom } from "./serialize.js";

const { owner, admin, member } = MemberRole;

describe("default role permissions", () => {
  it("gives the owner everything, admins all but rank, members send and invite only", () => {
    expect(Object.values(GROUP_ROLE_PERMISSIONS.owner).every(Boolean)).toBe(true);
    expect(GROUP_ROLE_PERMISSIONS.admin).toEqual({
      canSend: true,
      canPin: true,
      canKick: true,
      canEditNotice: true,
      canInvite: true,
      canRename: true,
      canMentionAll: true,
      canDeleteAny: true,
    });
    expect(GROUP_ROLE_PERMISSIONS.member).toEqual({
      canSend: true,
      canPin: false,
      canKick: false,
      canEditNotice: false,
      canInvite: true,
      canRename: false,
      canMentionAll: false,
      canDeleteAny: false,
    });
  });

  it("never lets a direct room be renamed, grown or emptied", () => {
    expect(DIRECT_MEMBER_PERMISSIONS).toMatchObject({
      canRename: false,
      canInvite: false,
      canKick: false,
      canSend: true,
    });
    expect(Object.values(NO_PERMISSIONS).some(Boolean)).toBe(false);
  });

  it("maps role names and codes both ways", () => {
    expect(roleCode("owner")).toBe(3);
    expect(roleName(MemberRole.admin)).toBe("admin");
    expect(() => roleName(42)).toThrow();
  });
});

describe("canRemove", () => {
  const kicker = (role: number) => ({ role, canKick: true });
  it("lets a role with kick remove only strictly lower roles", () => {
    expect(canRemove(kicker(owner), admin)).toBe(true);
    expect(canRemove(kicker(owner), member)).toBe(true);
    expect(canRemove(kicker(admin), member)).toBe(true);
    expect(canRemove(kicker(admin), admin)).toBe(false);
    expect(canRemove(kicker(admin), owner)).toBe(false);
    expect(canRemove(kicker(member), member)).toBe(false);
  });
  it("refuses without the kick permission whatever the rank", () => {
    expect(canRemove({ role: owner, canKick: false }, member)).toBe(false);
  });
});

describe("permissionsForPatch", () => {
  it("asks for each permission once, for fields that are present (null included)", () => {
    expect(permissionsForPatch({ name: "x" })).toEqual(["canRename"]);
    expect(permissionsForPatch({ notice: null, description: "d" })).toEqual(["canEditNotice"]);
    expect(permissionsForPatch({ pinned_seq: null })).toEqual(["canPin"]);
    expect(permissionsForPatch({ name: "x", notice: "n", pinned_seq: 4 }).sort()).toEqual([
      "canEditNotice",
      "canPin",
      "canRename",
    ]);
    expect(permissionsForPatch({})).toEqual([]);
  });
  it("reports what a role lacks", () => {
    expect(missingPermissions(GROUP_ROLE_PERMISSIONS.member, ["canRename", "canInvite", "canPin"])).toEqual([
      "canRename",
      "canPin",
    ]);
    expect(missingPermissions(GROUP_ROLE_PERMISSIONS.admin, ["canRename", "canPin"])).toEqual([]);
  });
});

describe("nextOwner", () => {
  const at = (s: number) => new Date(1_700_000_000_000 + s * 1000);
  it("prefers the longest-standing admin over older members", () => {
    const heir = nextOwner([
      { userId: "m-old", role: member, joinedAt: at(0) },
      { userId: "a-new", role: admin, joinedAt: at(20) },
      { userId: "a-old", role: admin, joinedAt: at(10) },
    ]);
    expect(heir?.userId).toBe("a-old");
  });
  it("falls back to the longest-standing member, ties broken by id", () => {
    expect(
      nextOwner([
        { userId: "m2", role: member, joinedAt: at(5) },
        { userId: "m1", role: member, joinedAt: at(1) },
      ])?.userId,
    ).toBe("m1");
    expect(
      nextOwner([
        { userId: "b", role: member, joinedAt: at(1) },
        { userId: "a", role: member, joinedAt: at(1) },
      ])?.userId,
    ).toBe("a");
  });
  it("finds nobody in an empty room", () => {
    expect(nextOwner([])).toBeUndefined();
  });
});

describe("planRoleChange", () => {
  it("lets only the owner change roles", () => {
    expect(
      planRoleChange({ actorRole: admin, targetRole: member, targetIsActor: false, newRole: "admin" }),
    ).toMatchObject({ kind: "refused", status: 403 });
    expect(
      planRoleChange({ actorRole: member, targetRole: member, targetIsActor: true, newRole: "admin" }),
    ).toMatchObject({ kind: "refused", status: 403 });
  });
  it("promotes, demotes, transfers and ignores no-ops", () => {
    expect(planRoleChange({ actorRole: owner, targetRole: member, targetIsActor: false, newRole: "admin" })).toEqual({
      kind: "set",
      role: admin,
    });
    expect(planRoleChange({ actorRole: owner, targetRole: admin, targetIsActor: false, newRole: "member" })).toEqual({
      kind: "set",
      role: member,
    });
    expect(planRoleChange({ actorRole: owner, targetRole: admin, targetIsActor: false, newRole: "owner" })).toEqual({
      kind: "transfer",
    });
    expect(planRoleChange({ actorRole: owner, targetRole: admin, targetIsActor: false, newRole: "admin" })).toEqual({
      kind: "unchanged",
    });
    expect(planRoleChange({ actorRole: owner, targetRole: owner, targetIsActor: true, newRole: "owner" })).toEqual({
      kind: "unchanged",
    });
  });
  it("keeps the owner from leaving the group ownerless", () => {
    expect(
      planRoleChange({ actorRole: owner, targetRole: owner, targetIsActor: true, newRole: "admin" }),
    ).toMatchObject({ kind: "refused", status: 400 });
  });
});

describe("direct keys", () => {
  const a = "0f1e2d3c-0000-4000-8000-000000000001";
  const b = "a0000000-0000-4000-8000-000000000002";
  it("is the same for both orders of a pair", () => {
    expect(directKey(a, b)).toBe(`${a}:${b}`);
    expect(directKey(b, a)).toBe(`${a}:${b}`);
    expect(directKey(b.toUpperCase(), a)).toBe(`${a}:${b}`);
  });
  it("names the other person of the pair", () => {
    expect(peerOf(directKey(a, b), a)).toBe(b);
    expect(peerOf(directKey(a, b), b)).toBe(a);
    expect(peerOf(directKey(a, b), "someone-else")).toBeUndefined();
    expect(peerOf(null, a)).toBeUndefined();
  });
  it("serialises a direct room with peer_id and a group without", () => {
    const row: RoomRow = {
      id: "r",
      roomType: RoomType.direct,
      status: 1,
      name: null,
      directKey: directKey(a, b),
      createdBy: a,
      membershipVersion: 1,
      lastSeq: 0,
      createdAt: new Date("2026-01-02T03:04:05.000Z"),
      updatedAt: new Date(),
    };
    expect(toRoom(row, null, 2, a)).toEqual({
      id: "r",
      type: "direct",
      name: null,
      description: null,
      notice: null,
      pinned_seq: null,
      created_by: a,
      created_at: "2026-01-02T03:04:05.000Z",
      member_count: 2,
      peer_id: b,
    });
    const g = toRoom({ ...row, roomType: RoomType.group, name: "g", directKey: null }, null, 3, a);
    expect(g.type).toBe("group");
    expect("peer_id" in g).toBe(false);
  });
});
