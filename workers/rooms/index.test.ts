// Rooms: create (direct, group), list, read, edit metadata, my settings. Real workerd + PostgreSQL.
import { describe, expect, it } from "vitest";
import { call, db, register } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { eventually } from "../../test/support/sockets.js";
import {
  block,
  direct,
  group,
  makeAdmin,
  memberRow,
  people,
  roomRow,
  version,
  type Seeded,
} from "../../test/support/rooms.js";

const edge = useEdge();

const create = (user: { token: string } | null, body: unknown) =>
  call(edge, "POST", "/v1/rooms", { token: user?.token, body });

describe("POST /rooms {type:direct}", () => {
  it("creates one room per pair and answers it to both sides", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const first = await create(a, { type: "direct", peer_id: b.id });
    expect(first.status).toBe(201);
    expect(first.body.room).toMatchObject({
      type: "direct",
      name: null,
      created_by: a.id,
      member_count: 2,
      peer_id: b.id,
      pinned_seq: null,
    });
    expect(new Date(first.body.room.created_at).toISOString()).toBe(first.body.room.created_at);

    const again = await create(a, { type: "direct", peer_id: b.id });
    expect(again.status).toBe(200);
    expect(again.body.room.id).toBe(first.body.room.id);
    // ids compare case-insensitively, as UUIDs do
    const fromPeer = await create(b, { type: "direct", peer_id: a.id.toUpperCase() });
    expect(fromPeer.status).toBe(200);
    expect(fromPeer.body.room).toMatchObject({ id: first.body.room.id, peer_id: a.id });

    const row = await roomRow(first.body.room.id);
    expect(row).toMatchObject({ room_type: 1, status: 1, direct_key: [a.id, b.id].sort().join(":") });
    expect(Number(row.membership_version)).toBe(1);
    const { rows: members } = await db().query(
      `select user_id, role, status from chat_members where room_id = $1 order by user_id`,
      [row.id],
    );
    expect(members).toEqual([a.id, b.id].sort().map((user_id) => ({ user_id, role: 1, status: 1 })));
    const { rows: roles } = await db().query(
      `select role, can_send, can_rename, can_invite, can_kick from chat_room_roles where room_id = $1`,
      [row.id],
    );
    expect(roles).toEqual([{ role: 1, can_send: true, can_rename: false, can_invite: false, can_kick: false }]);
  });

  it("works for users who registered through the API", async () => {
    const [a, b] = [await register(edge), await register(edge)];
    const res = await create(a, { type: "direct", peer_id: b.id });
    expect(res.status).toBe(201);
    expect(res.body.room.peer_id).toBe(b.id);
  });

  it("refuses yourself, unknown or inactive peers, and peers who blocked you", async () => {
    const [a, b, gone, blocker] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    await db().query(`update users set status = 2 where id = $1`, [gone.id]);
    await block(blocker, a);

    const self = await create(a, { type: "direct", peer_id: a.id });
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe("invalid");
    expect((await create(a, { type: "direct", peer_id: crypto.randomUUID() })).status).toBe(404);
    const inactive = await create(a, { type: "direct", peer_id: gone.id });
    expect(inactive.status).toBe(404);
    expect(inactive.body.error.code).toBe("not_found");
    const blocked = await create(a, { type: "direct", peer_id: blocker.id });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error.code).toBe("forbidden");
    const { rows } = await db().query(`select count(*)::int as n from chat_rooms where created_by = $1`, [a.id]);
    expect(rows[0].n).toBe(0);
    // the block binds only the one who was blocked
    expect((await create(a, { type: "direct", peer_id: b.id })).status).toBe(201);
  });

  it("brings a cleaned-up room back with the same id", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    await db().query(`update chat_rooms set status = 3 where id = $1`, [room.id]);
    await db().query(`update chat_members set status = 2, left_at = now() where room_id = $1 and user_id = $2`, [
      room.id,
      b.id,
    ]);
    expect((await call(edge, "GET", `/v1/rooms/${room.id}`, { token: a.token })).status).toBe(404);

    const res = await create(b, { type: "direct", peer_id: a.id });
    expect(res.status).toBe(200);
    expect(res.body.room).toMatchObject({ id: room.id, member_count: 2, peer_id: a.id });
    expect((await roomRow(room.id)).status).toBe(1);
    expect(await memberRow(room.id, b.id)).toMatchObject({ status: 1, left_at: null });
    expect(await version(room.id)).toBe(2);
  });

  it("rejects bad input before touching anything", async () => {
    const [a] = (await people(1)) as [Seeded];
    expect((await create(null, { type: "direct", peer_id: a.id })).status).toBe(401);
    const notUuid = await create(a, { type: "direct", peer_id: "1 OR 1=1" });
    expect(notUuid.status).toBe(400);
    expect(notUuid.body.error.code).toBe("invalid");
    expect((await create(a, { type: "direct", peer_id: crypto.randomUUID(), extra: 1 })).status).toBe(400);
    expect((await create(a, { type: "channel", peer_id: crypto.randomUUID() })).status).toBe(400);
    const malformed = await call(edge, "POST", "/v1/rooms", { token: a.token, rawBody: `{"type":"direct",` });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/not valid JSON/);
    const noType = await call(edge, "POST", "/v1/rooms", {
      token: a.token,
      rawBody: "{}",
      headers: { "content-type": "text/plain" },
    });
    expect(noType.status).toBe(400);
  });
});

describe("POST /rooms {type:group}", () => {
  it("creates the room, its roles, metadata, first history row and members", async () => {
    const [me, x, y] = (await people(3)) as [Seeded, Seeded, Seeded];
    // duplicates and the creator itself are dropped
    const res = await create(me, { type: "group", name: "  Team  ", member_ids: [x.id, y.id, x.id, me.id] });
    expect(res.status).toBe(201);
    const room = res.body.room;
    expect(room).toMatchObject({
      type: "group",
      name: "Team",
      created_by: me.id,
      member_count: 3,
      description: null,
      notice: null,
      pinned_seq: null,
    });
    expect(room.peer_id).toBeUndefined();

    const row = await roomRow(room.id);
    expect(row).toMatchObject({ room_type: 2, status: 1, name: "Team", direct_key: null });
    expect(Number(row.membership_version)).toBe(1);
    const { rows: members } = await db().query(
      `select user_id, role from chat_members where room_id = $1 and status = 1`,
      [room.id],
    );
    expect(new Map(members.map((m) => [m.user_id, m.role]))).toEqual(
      new Map([
        [me.id, 3],
        [x.id, 1],
        [y.id, 1],
      ]),
    );
    const { rows: roles } = await db().query(
      `select role, can_send, can_pin, can_kick, can_edit_notice, can_invite, can_rename from chat_room_roles where room_id = $1 order by role`,
      [room.id],
    );
    expect(roles).toEqual([
      {
        role: 1,
        can_send: true,
        can_pin: false,
        can_kick: false,
        can_edit_notice: false,
        can_invite: true,
        can_rename: false,
      },
      {
        role: 2,
        can_send: true,
        can_pin: true,
        can_kick: true,
        can_edit_notice: true,
        can_invite: true,
        can_rename: true,
      },
      {
        role: 3,
        can_send: true,
        can_pin: true,
        can_kick: true,
        can_edit_notice: true,
        can_invite: true,
        can_rename: true,
      },
    ]);
    const { rows: meta } = await db().query(`select updated_by from chat_room_metadata where room_id = $1`, [room.id]);
    expect(meta).toEqual([{ updated_by: me.id }]);
    const { rows: history } = await db().query(
      `select name, changed_by from chat_room_metadata_history where room_id = $1`,
      [room.id],
    );
    expect(history).toEqual([{ name: "Team", changed_by: me.id }]);
  });

  it("may start with the creator alone", async () => {
    const [me] = (await people(1)) as [Seeded];
    const res = await create(me, { type: "group", name: "just me", member_ids: [] });
    expect(res.status).toBe(201);
    expect(res.body.room.member_count).toBe(1);
  });

  it("stores SQL-looking and unusual names verbatim", async () => {
    const [me] = (await people(1)) as [Seeded];
    const name = `Robert'); DROP TABLE chat_rooms;-- "x" \\ % _ 🙂`;
    const res = await create(me, { type: "group", name, member_ids: [] });
    expect(res.status).toBe(201);
    expect(res.body.room.name).toBe(name);
    expect((await roomRow(res.body.room.id)).name).toBe(name);
    const listed = await call(edge, "GET", "/v1/rooms", { token: me.token });
    expect(listed.body.rooms.map((r: { room: { name: string } }) => r.room.name)).toContain(name);
  });

  it("counts name length in characters and refuses oversized, empty or control-character names", async () => {
    const [me] = (await people(1)) as [Seeded];
    expect((await create(me, { type: "group", name: "🙂".repeat(100), member_ids: [] })).status).toBe(201);
    const long = await create(me, { type: "group", name: "x".repeat(101), member_ids: [] });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/at most 100/);
    expect((await create(me, { type: "group", name: "   ", member_ids: [] })).status).toBe(400);
    expect((await create(me, { type: "group", name: "a\u0000b", member_ids: [] })).status).toBe(400);
    expect((await create(me, { type: "group", member_ids: [] })).status).toBe(400);
    expect((await create(me, { type: "group", name: "n", member_ids: ["nope"] })).status).toBe(400);
    expect((await create(me, { type: "group", name: "n", member_ids: [], peer_id: me.id })).status).toBe(400);
  });

  it("refuses unknown or inactive members and members who blocked the creator, storing nothing", async () => {
    const [me, ok, gone, blocker] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    await db().query(`update users set status = 3 where id = $1`, [gone.id]);
    await block(blocker, me);
    const unknown = crypto.randomUUID();
    const missing = await create(me, { type: "group", name: "g", member_ids: [ok.id, unknown, gone.id] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain(unknown);
    expect(missing.body.error.message).toContain(gone.id);
    expect(missing.body.error.message).not.toContain(ok.id);
    const blocked = await create(me, { type: "group", name: "g", member_ids: [ok.id, blocker.id] });
    expect(blocked.status).toBe(403);
    const { rows } = await db().query(`select count(*)::int as n from chat_rooms where created_by = $1`, [me.id]);
    expect(rows[0].n).toBe(0);
  });
});

describe("GET /rooms", () => {
  it("lists my active rooms, newest activity first, with my settings", async () => {
    const [me, x, y, stranger] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const older = await group(edge, me, [x], "older");
    const dm = await direct(edge, me, y);
    const left = await group(edge, x, [me], "left");
    await group(edge, x, [stranger], "not mine");
    expect((await call(edge, "DELETE", `/v1/rooms/${left.id}/members/${me.id}`, { token: me.token })).status).toBe(204);
    // activity on the older room moves it to the top
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${older.id}`, { token: me.token, body: { notice: "hi" } })).status,
    ).toBe(200);
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${dm.id}/me`, { token: me.token, body: { hidden: true } })).status,
    ).toBe(200);

    const res = await call(edge, "GET", "/v1/rooms", { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.rooms.map((e: { room: { id: string } }) => e.room.id)).toEqual([older.id, dm.id]);
    expect(res.body.rooms[0]).toEqual({
      room: { ...older, notice: "hi" },
      last_message: null,
      unread_count: 0,
      // offsets come from the room itself (realtime tests cover them moving)
      read_seq: 0,
      muted: false,
      hidden: false,
    });
    expect(res.body.rooms[1]).toMatchObject({
      room: { type: "direct", peer_id: y.id, member_count: 2 },
      hidden: true,
      read_seq: 0,
    });
    expect((await call(edge, "GET", "/v1/rooms")).status).toBe(401);
  });
});

describe("GET /rooms/:id", () => {
  it("shows the room and its members to members only", async () => {
    const [me, x, y, stranger] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [x, y]);
    await makeAdmin(room.id, y);
    const res = await call(edge, "GET", `/v1/rooms/${room.id}`, { token: x.token });
    expect(res.status).toBe(200);
    expect(res.body.room).toEqual(room);
    // with their names: members need not be friends, and there is no other lookup by id
    const named = (u: Seeded, role: string) => ({
      user_id: u.id,
      role,
      handle: u.handle,
      display_name: u.display_name,
    });
    expect(res.body.members).toEqual([named(me, "owner"), named(y, "admin"), named(x, "member")]);

    const outsider = await call(edge, "GET", `/v1/rooms/${room.id}`, { token: stranger.token });
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.code).toBe("forbidden");
    const unknown = await call(edge, "GET", `/v1/rooms/${crypto.randomUUID()}`, { token: me.token });
    expect(unknown.status).toBe(404);
    expect((await call(edge, "GET", `/v1/rooms/not-a-uuid`, { token: me.token })).status).toBe(400);
    expect((await call(edge, "GET", `/v1/rooms/${room.id}`)).status).toBe(401);

    expect((await call(edge, "DELETE", `/v1/rooms/${room.id}/members/${x.id}`, { token: x.token })).status).toBe(204);
    expect((await call(edge, "GET", `/v1/rooms/${room.id}`, { token: x.token })).status).toBe(403);
    const after = await call(edge, "GET", `/v1/rooms/${room.id}`, { token: me.token });
    expect(after.body.members.map((m: { user_id: string }) => m.user_id)).toEqual([me.id, y.id]);
    expect(after.body.room.member_count).toBe(2);
  });
});

describe("PATCH /rooms/:id", () => {
  it("lets the owner change everything and records each state in history", async () => {
    const [me, x] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x], "before");
    const before = await roomRow(room.id);
    const res = await call(edge, "PATCH", `/v1/rooms/${room.id}`, {
      token: me.token,
      body: { name: "after", notice: "read me", description: "about", pinned_seq: 12 },
    });
    expect(res.status).toBe(200);
    expect(res.body.room).toMatchObject({
      id: room.id,
      name: "after",
      notice: "read me",
      description: "about",
      pinned_seq: 12,
      member_count: 2,
    });
    const after = await roomRow(room.id);
    expect(after.name).toBe("after");
    expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
    // membership did not change
    expect(Number(after.membership_version)).toBe(1);

    expect(
      (await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: me.token, body: { notice: null } })).body.room.notice,
    ).toBeNull();
    const { rows: history } = await db().query(
      `select name, description, notice, pinned_seq, changed_by from chat_room_metadata_history where room_id = $1 order by id`,
      [room.id],
    );
    expect(history).toEqual([
      { name: "before", description: null, notice: null, pinned_seq: null, changed_by: me.id },
      { name: "after", description: "about", notice: "read me", pinned_seq: "12", changed_by: me.id },
      { name: "after", description: "about", notice: null, pinned_seq: "12", changed_by: me.id },
    ]);
    const { rows: meta } = await db().query(
      `select notice, description, updated_by from chat_room_metadata where room_id = $1`,
      [room.id],
    );
    expect(meta).toEqual([{ notice: null, description: "about", updated_by: me.id }]);
  });

  it("gives the room its new name (for push notifications) without a membership change", async () => {
    const [me] = (await people(1)) as [Seeded];
    const room = await group(edge, me, [], "first name");
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const stub = ns.get(ns.idFromName(room.id)) as unknown as {
      inspect(): Promise<{ meta: { name?: string | null } }>;
    };
    expect((await stub.inspect()).meta.name).toBe("first name");
    await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: me.token, body: { name: "second name" } });
    await eventually(async () => (await stub.inspect()).meta.name === "second name");
    expect(await version(room.id)).toBe(1);
  });

  it("checks each field against the caller's role row", async () => {
    const [me, admin, plain, stranger] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, me, [admin, plain], "roles");
    await makeAdmin(room.id, admin);
    const patch = (u: Seeded, body: unknown) => call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: u.token, body });

    for (const body of [{ name: "mine" }, { notice: "n" }, { description: "d" }, { pinned_seq: 3 }]) {
      const res = await patch(plain, body);
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(res.body.error.code).toBe("forbidden");
    }
    expect((await patch(stranger, { notice: "n" })).status).toBe(403);
    expect((await patch(admin, { name: "by admin", pinned_seq: 5 })).status).toBe(200);
    // permissions come from the room's rows, not from code
    await db().query(`update chat_room_roles set can_edit_notice = true where room_id = $1 and role = 1`, [room.id]);
    expect((await patch(plain, { notice: "by member" })).status).toBe(200);
    expect((await patch(plain, { notice: "again", name: "sneaky" })).status).toBe(403);
    expect((await roomRow(room.id)).name).toBe("by admin");
    const { rows } = await db().query(`select count(*)::int as n from chat_room_metadata_history where room_id = $1`, [
      room.id,
    ]);
    expect(rows[0].n).toBe(3);
  });

  it("never renames a direct room, but lets either side set its notice", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const rename = await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: a.token, body: { name: "ours" } });
    expect(rename.status).toBe(403);
    expect((await roomRow(room.id)).name).toBeNull();
    const notice = await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: b.token, body: { notice: "hello" } });
    expect(notice.status).toBe(200);
    expect(notice.body.room).toMatchObject({ notice: "hello", peer_id: a.id });
  });

  it("creates the metadata row when a room has none", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    expect((await db().query(`select 1 from chat_room_metadata where room_id = $1`, [room.id])).rowCount).toBe(0);
    const res = await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: a.token, body: { pinned_seq: 9 } });
    expect(res.status).toBe(200);
    const { rows } = await db().query(`select pinned_seq, updated_by from chat_room_metadata where room_id = $1`, [
      room.id,
    ]);
    expect(rows).toEqual([{ pinned_seq: "9", updated_by: a.id }]);
  });

  it("validates the patch", async () => {
    const [me] = (await people(1)) as [Seeded];
    const room = await group(edge, me, []);
    const patch = (body: unknown) => call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: me.token, body });
    expect((await patch({})).status).toBe(400);
    expect((await patch({ title: "x" })).status).toBe(400);
    expect((await patch({ name: "x".repeat(101) })).status).toBe(400);
    expect((await patch({ notice: "x".repeat(2001) })).status).toBe(400);
    expect((await patch({ pinned_seq: -1 })).status).toBe(400);
    expect((await patch({ pinned_seq: 1.5 })).status).toBe(400);
    expect((await call(edge, "PATCH", `/v1/rooms/${room.id}`, { token: me.token, rawBody: "{name:" })).status).toBe(
      400,
    );
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${crypto.randomUUID()}`, { token: me.token, body: { notice: "x" } }))
        .status,
    ).toBe(404);
    expect((await call(edge, "PATCH", `/v1/rooms/${room.id}`, { body: { notice: "x" } })).status).toBe(401);
    const { rows } = await db().query(`select count(*)::int as n from chat_room_metadata_history where room_id = $1`, [
      room.id,
    ]);
    expect(rows[0].n).toBe(1);
  });
});

describe("PATCH /rooms/:id/me", () => {
  it("sets my own mute and hide, in group and direct rooms", async () => {
    const [me, x] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, me, [x]);
    const res = await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: x.token, body: { muted: true } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ muted: true, hidden: false });
    expect(await memberRow(room.id, x.id)).toMatchObject({ muted: true, hidden: false });
    expect(await memberRow(room.id, me.id)).toMatchObject({ muted: false });
    // the room decides who is pushed: a change of mute reaches it as a new membership version,
    // the same settings again are no change
    expect(await version(room.id)).toBe(2);
    await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: x.token, body: { muted: true } });
    expect(await version(room.id)).toBe(2);

    const dm = await direct(edge, me, x);
    const hide = await call(edge, "PATCH", `/v1/rooms/${dm.id}/me`, {
      token: me.token,
      body: { hidden: true, muted: false },
    });
    expect(hide.body).toEqual({ muted: false, hidden: true });
    expect(await memberRow(dm.id, me.id)).toMatchObject({ hidden: true });
  });

  it("refuses non-members, unknown rooms and bad bodies", async () => {
    const [me, stranger] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, me, []);
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: stranger.token, body: { muted: true } })).status,
    ).toBe(403);
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${crypto.randomUUID()}/me`, { token: me.token, body: { muted: true } }))
        .status,
    ).toBe(404);
    expect((await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: me.token, body: {} })).status).toBe(400);
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: me.token, body: { muted: "yes" } })).status,
    ).toBe(400);
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: me.token, body: { muted: true, role: "owner" } }))
        .status,
    ).toBe(400);
    expect(await memberRow(room.id, me.id)).toMatchObject({ muted: false, role: 3 });
  });
});
