// Rooms and their rows as tests set them up and read them back (rooms and realtime tests alike).
import { expect } from "vitest";
import { call, db, seedUsers } from "./api.js";
import type { EdgeLike as Edge } from "./miniflare.js";
import type { Room } from "../../protocol/index.js";

export type Seeded = Awaited<ReturnType<typeof seedUsers>>[number];

export async function people(n: number): Promise<Seeded[]> {
  return seedUsers(n, "rm");
}

export async function group(edge: Edge, owner: Seeded, members: Seeded[], name = "a group"): Promise<Room> {
  const res = await call(edge, "POST", "/v1/rooms", {
    token: owner.token,
    body: { type: "group", name, member_ids: members.map((m) => m.id) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.room;
}

export async function direct(edge: Edge, a: Seeded, b: Seeded): Promise<Room> {
  const res = await call(edge, "POST", "/v1/rooms", { token: a.token, body: { type: "direct", peer_id: b.id } });
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  return res.body.room;
}

/** `blocker` blocks `blocked`, written the way the friends API stores a block. */
export async function block(blocker: Seeded, blocked: Seeded) {
  await db().query(`insert into user_block (blocker_id, blocked_id, status) values ($1, $2, 1)`, [
    blocker.id,
    blocked.id,
  ]);
}

export async function roomRow(id: string) {
  const { rows } = await db().query(`select * from chat_rooms where id = $1`, [id]);
  return rows[0];
}

export async function version(id: string): Promise<number> {
  return Number((await roomRow(id)).membership_version);
}

export async function memberRow(roomId: string, userId: string) {
  const { rows } = await db().query(`select * from chat_members where room_id = $1 and user_id = $2`, [roomId, userId]);
  return rows[0];
}

export async function activeCount(roomId: string): Promise<number> {
  const { rows } = await db().query(
    `select count(*)::int as n from chat_members where room_id = $1 and status = 1 and left_at is null`,
    [roomId],
  );
  return rows[0].n;
}

/** Makes `user` an admin of the room directly (role change has its own tests). */
export async function makeAdmin(roomId: string, user: Seeded) {
  await db().query(`update chat_members set role = 2 where room_id = $1 and user_id = $2`, [roomId, user.id]);
}

export const NOT_A_ROOM = "00000000-0000-4000-8000-000000000000";
