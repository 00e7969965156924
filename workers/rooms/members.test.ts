// Room membership: add, leave, remove, role changes, ownership. Real workerd + PostgreSQL.
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import {
  activeCount,
  block,
  direct,
  group,
  makeAdmin,
  memberRow,
  people,
  version,
  type Seeded,
} from "../../test/support/rooms.js";

const edge = useEdge();

const add = (roomId: string, by: Seeded | null, ids: string[]) =>
  call(edge, "POST", `/v1/rooms/${roomId}/members`, { token: by?.token, body: { user_ids: ids } });
const remove = (roomId: string, by: Seeded | null, target: string) =>
  call(edge, "DELETE", `/v1/rooms/${roomId}/members/${target}`, { token: by?.token });
const setRole = (roomId: string, by: Seeded | null, target: string, role: unknown) =>
  call(edge, "PATCH", `/v1/rooms/${roomId}/members/${target}`, { token: by?.token, body: { role } });
const roles = async (roomId: string) => {
  const res = await call(edge, "GET", `/v1/rooms/${roomId}`, { token: (await ownerOf(roomId)).token });
  return Object.fromEntries(res.body.members.map((m: { user_id: string; role: string }) => [m.user_id, m.role]));
};
const tokens = new Map<string, Seeded>();
async function ownerOf(roomId: string): Promise<Seeded> {
  const { rows } = await db().query(`select user_id from chat_members where room_id = $1 and role = 3 and status = 1`, [
    roomId,
  ]);
  return tokens.get(rows[0].user_id)!;
}
async function crowd(n: number) {
  const list = await people(n);
  for (const p of list) tokens.set(p.id, p);
  return list;
}

describe("POST /rooms/:id/members", () => {
  it("adds new members, ignores present ones and bumps the membership version once", async () => {
    const [me, x, y, z] = (await crowd(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [x]);
    const res = await add(room.id, me, [y.id, x.id, y.id, me.id, z.id.toUpperCase()]);
    expect(res.status).toBe(200);
    expect(res.body.added.sort()).toEqual([y.id, z.id].sort());
    expect(res.body.room).toMatchObject({ id: room.id, member_count: 4 });
    expect(await version(room.id)).toBe(2);
    expect(await memberRow(room.id, y.id)).toMatchObject({ role: 1, status: 1, left_at: null });

    // nothing new: no write, no version bump
    const again = await add(room.id, me, [x.id, y.id]);
    expect(again.status).toBe(200);
    expect(again.body.added).toEqual([]);
    expect(await version(room.id)).toBe(2);
  });

  it("lets plain members invite, unless the room's role row says otherwise", async () => {
    const [me, x, y, z] = (await crowd(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [x]);
    expect((await add(room.id, x, [y.id])).status).toBe(200);
    await db().query(`update chat_room_roles set can_invite = false where room_id = $1 and role = 1`, [room.id]);
    const refused = await add(room.id, x, [z.id]);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/may not add members/);
    expect(await memberRow(room.id, z.id)).toBeUndefined();
  });

  it("refuses non-members, direct rooms, unknown users and users who blocked the inviter", async () => {
    const [me, x, stranger, gone, blocker, ok] = (await crowd(6)) as [Seeded, Seeded, Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [x]);
    await db().query(`update users set status = 2 where id = $1`, [gone.id]);
    await block(blocker, me);

    expect((await add(room.id, stranger, [ok.id])).status).toBe(403);
    const dm = await direct(edge, me, x);
    const toDirect = await add(dm.id, me, [ok.id]);
    expect(toDirect.status).toBe(403);
    expect(toDirect.body.error.code).toBe("forbidden");
    const unknown = crypto.randomUUID();
    const missing = await add(room.id, me, [ok.id, unknown, gone.id]);
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain(unknown);
    const blocked = await add(room.id, me, [ok.id, blocker.id]);
    expect(blocked.status).toBe(403);
    // someone else, not blocked, may still add the blocker
    expect((await add(room.id, x, [blocker.id])).status).toBe(200);
    expect(await memberRow(room.id, ok.id)).toBeUndefined();
    expect(await version(room.id)).toBe(2);

    expect((await add(crypto.randomUUID(), me, [ok.id])).status).toBe(404);
    expect((await add(room.id, null, [ok.id])).status).toBe(401);
    expect((await add(room.id, me, [])).status).toBe(400);
    expect((await add(room.id, me, ["robert'); drop table chat_members;--"])).status).toBe(400);
    expect(
      (
        await call(edge, "POST", `/v1/rooms/${room.id}/members`, {
          token: me.token,
          body: { user_ids: [ok.id], role: "admin" },
        })
      ).status,
    ).toBe(400);
    expect((await call(edge, "POST", `/v1/rooms/${room.id}/members`, { token: me.token, rawBody: "[" })).status).toBe(
      400,
    );
    expect(
      (await call(edge, "POST", `/v1/rooms/x/members`, { token: me.token, body: { user_ids: [ok.id] } })).status,
    ).toBe(400);
  });

  it("brings back someone who left as a fresh member in the same row", async () => {
    const [me, x] = (await crowd(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x]);
    await makeAdmin(room.id, x);
    await db().query(`update chat_members set muted = true, hidden = true where room_id = $1 and user_id = $2`, [
      room.id,
      x.id,
    ]);
    const before = await memberRow(room.id, x.id);
    expect((await remove(room.id, x, x.id)).status).toBe(204);
    const res = await add(room.id, me, [x.id]);
    expect(res.body.added).toEqual([x.id]);
    const after = await memberRow(room.id, x.id);
    expect(after).toMatchObject({ id: before.id, status: 1, left_at: null, role: 1, muted: false, hidden: false });
    expect(after.joined_at.getTime()).toBeGreaterThan(before.joined_at.getTime());
    expect(await version(room.id)).toBe(3);
  });
});

describe("DELETE /rooms/:id/members/:user_id", () => {
  it("lets a member leave: a logical delete that bumps the version", async () => {
    const [me, x] = (await crowd(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x]);
    const res = await remove(room.id, x, x.id);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    const row = await memberRow(room.id, x.id);
    expect(row.status).toBe(2);
    expect(row.left_at).toBeInstanceOf(Date);
    expect(await version(room.id)).toBe(2);
    expect(await activeCount(room.id)).toBe(1);
    // gone now: a second leave is refused as for any non-member
    expect((await remove(room.id, x, x.id)).status).toBe(403);
  });

  it("lets a kicker remove only lower roles", async () => {
    const [me, admin, admin2, m1, m2] = (await crowd(5)) as [Seeded, Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [admin, admin2, m1, m2]);
    await makeAdmin(room.id, admin);
    await makeAdmin(room.id, admin2);

    const byMember = await remove(room.id, m1, m2.id);
    expect(byMember.status).toBe(403);
    expect(byMember.body.error.message).toMatch(/may not remove members/);
    expect((await remove(room.id, admin, admin2.id)).status).toBe(403);
    expect((await remove(room.id, admin, me.id)).status).toBe(403);
    expect(await activeCount(room.id)).toBe(5);
    expect(await version(room.id)).toBe(1);

    expect((await remove(room.id, admin, m1.id)).status).toBe(204);
    expect(await memberRow(room.id, m1.id)).toMatchObject({ status: 3 });
    expect((await remove(room.id, me, admin2.id)).status).toBe(204);
    expect(await memberRow(room.id, admin2.id)).toMatchObject({ status: 3 });
    expect(await version(room.id)).toBe(3);

    // removed members can no longer act in the room
    expect((await call(edge, "GET", `/v1/rooms/${room.id}`, { token: m1.token })).status).toBe(403);
    expect((await remove(room.id, admin, m1.id)).status).toBe(404);
    expect((await remove(room.id, admin, crypto.randomUUID())).status).toBe(404);
    expect((await remove(room.id, admin, "nope")).status).toBe(400);
    expect((await remove(room.id, null, m2.id)).status).toBe(401);
  });

  it("keeps direct rooms whole", async () => {
    const [a, b] = (await crowd(2)) as [Seeded, Seeded];
    const dm = await direct(edge, a, b);
    const res = await remove(dm.id, a, a.id);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/hide it/);
    expect((await remove(dm.id, a, b.id)).status).toBe(403);
    expect(await activeCount(dm.id)).toBe(2);
  });

  it("passes ownership to the longest-standing admin when the owner leaves", async () => {
    const [me, oldMember, newAdmin, oldAdmin] = (await crowd(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [oldMember, newAdmin, oldAdmin]);
    await makeAdmin(room.id, newAdmin);
    await makeAdmin(room.id, oldAdmin);
    const ago = (id: string, minutes: number) =>
      db().query(
        `update chat_members set joined_at = now() - make_interval(mins => $3) where room_id = $1 and user_id = $2`,
        [room.id, id, minutes],
      );
    await ago(oldMember.id, 30);
    await ago(oldAdmin.id, 20);
    await ago(newAdmin.id, 10);

    expect((await remove(room.id, me, me.id)).status).toBe(204);
    expect(await roles(room.id)).toEqual({ [oldAdmin.id]: "owner", [newAdmin.id]: "admin", [oldMember.id]: "member" });
    expect(await version(room.id)).toBe(2);
  });

  it("passes ownership to the longest-standing member when there is no admin", async () => {
    const [me, young, old] = (await crowd(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, me, [young, old]);
    await db().query(
      `update chat_members set joined_at = now() - interval '1 hour' where room_id = $1 and user_id = $2`,
      [room.id, old.id],
    );
    expect((await remove(room.id, me, me.id)).status).toBe(204);
    expect(await roles(room.id)).toEqual({ [old.id]: "owner", [young.id]: "member" });
    // the new owner holds the owner's powers
    expect((await remove(room.id, old, young.id)).status).toBe(204);
  });

  it("leaves a room empty when its last member goes", async () => {
    const [me] = (await crowd(1)) as [Seeded];
    const room = await group(edge, me, []);
    expect((await remove(room.id, me, me.id)).status).toBe(204);
    expect(await activeCount(room.id)).toBe(0);
    const listed = await call(edge, "GET", "/v1/rooms", { token: me.token });
    expect(listed.body.rooms.map((r: { room: { id: string } }) => r.room.id)).not.toContain(room.id);
  });
});

describe("PATCH /rooms/:id/members/:user_id", () => {
  it("lets the owner promote and demote, bumping the version", async () => {
    const [me, x] = (await crowd(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x]);
    const up = await setRole(room.id, me, x.id, "admin");
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ member: { user_id: x.id, role: "admin" } });
    expect(await memberRow(room.id, x.id)).toMatchObject({ role: 2 });
    expect(await version(room.id)).toBe(2);
    // the same role again changes nothing
    expect((await setRole(room.id, me, x.id, "admin")).status).toBe(200);
    expect(await version(room.id)).toBe(2);
    expect((await setRole(room.id, me, x.id, "member")).body.member.role).toBe("member");
    expect(await version(room.id)).toBe(3);
  });

  it("transfers ownership: the old owner becomes an admin", async () => {
    const [me, x] = (await crowd(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x]);
    const res = await setRole(room.id, me, x.id, "owner");
    expect(res.status).toBe(200);
    expect(res.body.member).toEqual({ user_id: x.id, role: "owner" });
    expect(await roles(room.id)).toEqual({ [x.id]: "owner", [me.id]: "admin" });
    expect(await version(room.id)).toBe(2);
    // and lost the owner's say over roles
    expect((await setRole(room.id, me, x.id, "member")).status).toBe(403);
  });

  it("refuses non-owners, self-demotion, non-members and bad roles", async () => {
    const [me, admin, x, stranger] = (await crowd(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [admin, x]);
    await makeAdmin(room.id, admin);

    const byAdmin = await setRole(room.id, admin, x.id, "admin");
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error.message).toMatch(/only the owner/);
    expect((await setRole(room.id, admin, admin.id, "owner")).status).toBe(403);
    expect((await setRole(room.id, x, x.id, "admin")).status).toBe(403);
    expect((await setRole(room.id, stranger, x.id, "admin")).status).toBe(403);
    const demote = await setRole(room.id, me, me.id, "member");
    expect(demote.status).toBe(400);
    expect(demote.body.error.code).toBe("invalid");
    expect((await setRole(room.id, me, stranger.id, "admin")).status).toBe(404);
    expect((await setRole(room.id, me, x.id, "superuser")).status).toBe(400);
    expect((await setRole(room.id, me, x.id, 3)).status).toBe(400);
    expect(
      (
        await call(edge, "PATCH", `/v1/rooms/${room.id}/members/${x.id}`, {
          token: me.token,
          body: { role: "admin", x: 1 },
        })
      ).status,
    ).toBe(400);
    expect((await setRole(room.id, null, x.id, "admin")).status).toBe(401);
    expect(await roles(room.id)).toEqual({ [me.id]: "owner", [admin.id]: "admin", [x.id]: "member" });
    expect(await version(room.id)).toBe(1);

    const dm = await direct(edge, me, x);
    expect((await setRole(dm.id, me, x.id, "admin")).status).toBe(403);
  });
});
