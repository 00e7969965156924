// Rooms under concurrency and at the 1,000-member limit. Real workerd + PostgreSQL.
import { describe, expect, it } from "vitest";
import { MAX_GROUP_MEMBERS } from "../../protocol/index.js";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { activeCount, group, people, version, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();

const createGroup = (owner: Seeded, ids: string[]) =>
  call(edge, "POST", "/v1/rooms", { token: owner.token, body: { type: "group", name: "big", member_ids: ids } });
const add = (roomId: string, by: Seeded, ids: string[]) =>
  call(edge, "POST", `/v1/rooms/${roomId}/members`, { token: by.token, body: { user_ids: ids } });
const ids = (list: Seeded[]) => list.map((u) => u.id);

describe("direct rooms under concurrent creation", () => {
  it("makes exactly one room when both people open it at once, ten times each", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const [me, peer] = i % 2 ? [a, b] : [b, a];
        return call(edge, "POST", "/v1/rooms", { token: me.token, body: { type: "direct", peer_id: peer.id } });
      }),
    );
    for (const res of answers) expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    const roomIds = new Set(answers.map((r) => r.body.room.id));
    expect(roomIds.size).toBe(1);
    const [roomId] = [...roomIds] as [string];

    const { rows: rooms } = await db().query(`select id from chat_rooms where direct_key = $1`, [
      [a.id, b.id].sort().join(":"),
    ]);
    expect(rooms).toEqual([{ id: roomId }]);
    const { rows: members } = await db().query(`select count(*)::int as n from chat_members where room_id = $1`, [
      roomId,
    ]);
    expect(members[0].n).toBe(2);
    const { rows: roles } = await db().query(`select count(*)::int as n from chat_room_roles where room_id = $1`, [
      roomId,
    ]);
    expect(roles[0].n).toBe(1);
    expect(await version(roomId)).toBe(1);
  });
});

describe("the 1,000-member limit", () => {
  it("creates a group of exactly 1,000 and refuses 1,001 at creation", async () => {
    const users = await people(MAX_GROUP_MEMBERS);
    const [owner, ...rest] = users as [Seeded, ...Seeded[]];
    expect(rest).toHaveLength(999);

    const extra = (await people(1))[0]!;
    const over = await createGroup(owner, [...ids(rest), extra.id]);
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/at most 1000 members/);
    const { rows } = await db().query(`select count(*)::int as n from chat_rooms where created_by = $1`, [owner.id]);
    expect(rows[0].n).toBe(0);

    const full = await createGroup(owner, [...ids(rest)]);
    expect(full.status).toBe(201);
    expect(full.body.room.member_count).toBe(1000);
    expect(await activeCount(full.body.room.id)).toBe(1000);
    const listed = await call(edge, "GET", `/v1/rooms/${full.body.room.id}`, { token: rest[500]!.token });
    expect(listed.body.members).toHaveLength(1000);
    expect(listed.body.members[0]).toEqual({
      user_id: owner.id,
      role: "owner",
      handle: owner.handle,
      display_name: expect.any(String),
    });
    expect(new Set(listed.body.members.map((m: { user_id: string }) => m.user_id)).size).toBe(1000);

    // full: one more is refused with a conflict, and nothing changes
    const refused = await add(full.body.room.id, owner, [extra.id]);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "conflict" });
    expect(refused.body.error.message).toMatch(/1000 of at most 1000 members: 0 more can join, not 1/);
    expect(await activeCount(full.body.room.id)).toBe(1000);
    expect(await version(full.body.room.id)).toBe(1);
  }, 60_000);

  it("fills a room to exactly 1,000 by adding, then refuses the 1,001st", async () => {
    const users = await people(MAX_GROUP_MEMBERS + 1);
    const [owner, ...rest] = users as [Seeded, ...Seeded[]];
    const room = await group(edge, owner, rest.slice(0, 900));
    const fill = await add(room.id, owner, ids(rest.slice(900, 999)));
    expect(fill.status).toBe(200);
    expect(fill.body.added).toHaveLength(99);
    expect(fill.body.room.member_count).toBe(1000);

    const last = rest[999]!;
    expect((await add(room.id, owner, [last.id])).status).toBe(409);
    // a free seat lets exactly that one in
    expect(
      (await call(edge, "DELETE", `/v1/rooms/${room.id}/members/${rest[0]!.id}`, { token: owner.token })).status,
    ).toBe(204);
    const after = await add(room.id, owner, [last.id]);
    expect(after.status).toBe(200);
    expect(after.body.room.member_count).toBe(1000);
    expect(await activeCount(room.id)).toBe(1000);
  }, 60_000);

  it("never passes 1,000 when adds race for the last seats", async () => {
    const users = await people(MAX_GROUP_MEMBERS + 2);
    const [owner, ...rest] = users as [Seeded, ...Seeded[]];
    const room = await group(edge, owner, rest.slice(0, 989)); // 990 members: 10 seats left
    const newcomers = rest.slice(989); // 12 people, in 6 pairs
    expect(newcomers).toHaveLength(12);
    // different inviters, so nothing but the room lock serialises them
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => add(room.id, rest[i]!, ids(newcomers.slice(2 * i, 2 * i + 2)))),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 409]);
    expect(await activeCount(room.id)).toBe(1000);
    // one bump per successful add, none for the refused one
    expect(await version(room.id)).toBe(1 + 5);
    const refused = answers.find((a) => a.status === 409)!;
    expect(refused.body.error.message).toMatch(/0 more can join, not 2/);
  }, 60_000);
});
