// Group spam and unbounded lists, through the public API: a cap on the rooms one user is in, the
// room list in pages, hidden rooms that stay quiet unless you are mentioned, and users who accept
// group adds only from the people they added.
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { eventually, openSession, openStream, sleep } from "../../test/support/sockets.js";
import { direct, group, people, type Seeded } from "../../test/support/rooms.js";

const CAP = 5;
const edge = useEdge({ MAX_ROOMS_PER_USER: String(CAP) });

const createGroup = (owner: Seeded, members: Seeded[], name = "g") =>
  call(edge, "POST", "/v1/rooms", {
    token: owner.token,
    body: { type: "group", name, member_ids: members.map((m) => m.id) },
  });
const listIds = (body: { rooms: Array<{ room: { id: string } }> }) => body.rooms.map((r) => r.room.id);

describe("rooms per user", () => {
  it(`refuses to put a user in more than ${CAP} rooms, by add, by creation or by a new direct room`, async () => {
    const [full, owner, peer, other] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const oldDm = await direct(edge, full, other);
    for (let i = 1; i < CAP; i++) await group(edge, owner, [full], `g${i}`);
    const extra = await group(edge, owner, [peer], "one too many");

    const add = await call(edge, "POST", `/v1/rooms/${extra.id}/members`, {
      token: owner.token,
      body: { user_ids: [full.id, other.id] },
    });
    expect(add.status).toBe(409);
    expect(add.body.error.code).toBe("conflict");
    expect(add.body.error.message).toContain(full.id);
    // nothing of the refused add happened, not even for the user who had room
    const { rows } = await db().query(`select user_id from chat_members where room_id = $1 and status = 1`, [extra.id]);
    expect(rows.map((r) => r.user_id).sort()).toEqual([owner.id, peer.id].sort());

    const byOther = await createGroup(peer, [full, other]);
    expect(byOther.status).toBe(409);
    expect(byOther.body.error.message).toContain(full.id);
    const own = await createGroup(full, [peer]);
    expect(own.status).toBe(409);
    expect(own.body.error.message).toMatch(/you are in 5 rooms/);
    const dm = await call(edge, "POST", "/v1/rooms", { token: full.token, body: { type: "direct", peer_id: peer.id } });
    expect(dm.status).toBe(409);
    // the direct room the pair already has costs no seat
    const again = await call(edge, "POST", "/v1/rooms", {
      token: other.token,
      body: { type: "direct", peer_id: full.id },
    });
    expect(again.status).toBe(200);
    expect(again.body.room.id).toBe(oldDm.id);

    // leaving one frees a seat
    const some = listIds((await call(edge, "GET", "/v1/rooms", { token: full.token })).body).find(
      (id) => id !== oldDm.id,
    )!;
    expect((await call(edge, "DELETE", `/v1/rooms/${some}/members/${full.id}`, { token: full.token })).status).toBe(
      204,
    );
    const retry = await call(edge, "POST", `/v1/rooms/${extra.id}/members`, {
      token: owner.token,
      body: { user_ids: [full.id] },
    });
    expect(retry.status).toBe(200);
    expect(retry.body.added).toEqual([full.id]);
  });
});

describe("GET /v1/rooms in pages", () => {
  it("pages newest activity first with next_cursor, every room once, and refuses bad paging", async () => {
    const [me, owner] = (await people(2)) as [Seeded, Seeded];
    const rooms = [];
    for (let i = 0; i < 5; i++) rooms.push(await group(edge, owner, [me], `p${i}`));
    // two of them share an activity time to the microsecond: the id breaks the tie
    await db().query(`update chat_rooms set updated_at = $2 where id = any($1)`, [
      [rooms[1]!.id, rooms[2]!.id],
      "2026-01-01T00:00:00.123456Z",
    ]);
    await db().query(`update chat_rooms set updated_at = now() + interval '1 minute' where id = $1`, [rooms[0]!.id]);
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const q: string = `?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await call(edge, "GET", `/v1/rooms${q}`, { token: me.token });
      expect(page.status).toBe(200);
      sizes.push(page.body.rooms.length);
      seen.push(...listIds(page.body));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen[0]).toBe(rooms[0]!.id);
    expect(new Set(seen).size).toBe(5);
    expect(seen.slice(3).sort()).toEqual([rooms[1]!.id, rooms[2]!.id].sort());
    const whole = await call(edge, "GET", "/v1/rooms", { token: me.token });
    expect(listIds(whole.body)).toEqual(seen);
    expect(whole.body.next_cursor).toBeNull();

    for (const q of ["?limit=0", "?limit=201", "?limit=x", "?cursor=nonsense!", `?cursor=${btoa("1.x")}`, "?page=2"]) {
      const bad = await call(edge, "GET", `/v1/rooms${q}`, { token: me.token });
      expect(bad.status, q).toBe(400);
      expect(bad.body.error.code, q).toBe("invalid");
    }
  });
});

describe("hidden rooms", () => {
  // pushes (and how a mention reaches a hidden or muted member) are push.test.ts's, against a relay
  it("send a member who hid the room no activity, unless a message mentions them", async () => {
    const [a, online, offline] = (await people(3)) as [Seeded, Seeded, Seeded];
    const g = await group(edge, a, [online, offline]);
    for (const u of [online, offline]) {
      const res = await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: u.token, body: { hidden: true } });
      expect(res.body).toEqual({ muted: false, hidden: true });
    }
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const room = ns.get(ns.idFromName(g.id)) as unknown as {
      inspect(): Promise<{ subscribed: string[]; outbox: Record<string, number> }>;
    };
    const session = await openSession(edge, online);
    await eventually(async () => (await room.inspect()).subscribed.includes(online.id));
    const sa = await openStream(edge, a, g.id);
    sa.send({ type: "send", room_id: g.id, client_message_id: "quiet", body: "nobody hears" });
    await sa.takeType("ack");
    await sleep(400);
    expect(session.seen("activity")).toEqual([]);
    expect((await room.inspect()).outbox.push ?? 0).toBe(0);

    sa.send({
      type: "send",
      room_id: g.id,
      client_message_id: "loud",
      body: "hey you two",
      mentions: [online.id, offline.id],
    });
    await sa.takeType("ack");
    expect(await session.takeType("activity")).toMatchObject({ room_id: g.id, last_seq: 2, mentioned: true });
    // no relay configured here: nothing is queued for one, mentioned or not
    expect((await room.inspect()).outbox.push ?? 0).toBe(0);

    // unhidden, the room is heard again
    await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: online.token, body: { hidden: false } });
    sa.send({ type: "send", room_id: g.id, client_message_id: "again", body: "back" });
    expect(await session.takeType("activity")).toMatchObject({ last_seq: 3 });
    await Promise.all([sa.close(), session.close()]);
  });
});

describe("who may add you to a group", () => {
  it("refuses group adds from people you have not added when you chose friends, with group_adds_refused", async () => {
    const [picky, stranger, pal] = (await people(3)) as [Seeded, Seeded, Seeded];
    expect((await call(edge, "PUT", `/v1/friends/${pal.id}`, { token: picky.token })).status).toBe(200);
    const set = await call(edge, "PATCH", "/v1/users/me", { token: picky.token, body: { group_adds: "friends" } });
    expect(set.status).toBe(200);
    expect(set.body.group_adds).toBe("friends");
    expect((await call(edge, "GET", "/v1/me", { token: picky.token })).body.group_adds).toBe("friends");

    const created = await createGroup(stranger, [picky, pal]);
    expect(created.status).toBe(403);
    expect(created.body.error.code).toBe("group_adds_refused");
    expect(created.body.error.message).toContain(picky.id);
    const g = await group(edge, stranger, [pal]);
    const add = await call(edge, "POST", `/v1/rooms/${g.id}/members`, {
      token: stranger.token,
      body: { user_ids: [picky.id] },
    });
    expect(add.status).toBe(403);
    expect(add.body.error.code).toBe("group_adds_refused");
    // someone the user added may add them; and a direct room is not a group add
    expect((await createGroup(pal, [picky])).status).toBe(201);
    expect(
      (await call(edge, "POST", "/v1/rooms", { token: stranger.token, body: { type: "direct", peer_id: picky.id } }))
        .status,
    ).toBe(201);

    // back to anyone: the stranger's add goes through
    await call(edge, "PATCH", "/v1/users/me", { token: picky.token, body: { group_adds: "anyone" } });
    const later = await call(edge, "POST", `/v1/rooms/${g.id}/members`, {
      token: stranger.token,
      body: { user_ids: [picky.id] },
    });
    expect(later.status).toBe(200);
  });
});
