// A removal that committed in PostgreSQL but never reached the room (its push failed four times
// and the API answered 503) must still shut the removed member out: a repeated DELETE pushes
// again, and the durable retry (RoomSyncRetry's alarm) makes the room catch up by itself.
// The failed push is reproduced by its result: the removal and its version bump written in
// PostgreSQL exactly as the DELETE's transaction writes them, with no push to the room.
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { group, people, version, type Seeded } from "../../test/support/rooms.js";
import { TestSocket, openStream, ticket, upgradeUrl } from "../../test/support/sockets.js";

const edge = useEdge();

async function removeWithoutPush(roomId: string, userId: string): Promise<number> {
  await db().query(
    `update chat_members set status = 3, left_at = now(), updated_at = now() where room_id = $1 and user_id = $2`,
    [roomId, userId],
  );
  await db().query(`update chat_rooms set membership_version = membership_version + 1 where id = $1`, [roomId]);
  return version(roomId);
}

async function expectShutOut(m: Seeded, roomId: string, spare: string) {
  await expect(ticket(edge, m.token, "again", roomId)).rejects.toMatchObject({ status: 403 });
  expect((await call(edge, "GET", `/v1/rooms/${roomId}/messages`, { token: m.token })).status).toBe(403);
  // a ticket taken while the room was stale opens nothing either
  await expect(TestSocket.open(upgradeUrl(edge, `/v1/rooms/${roomId}/stream?ticket=${spare}`))).rejects.toMatchObject({
    status: 403,
  });
}

describe("a removal the room has not applied", () => {
  it("is pushed again by a repeated DELETE, which still answers 404", async () => {
    const [owner, m, other] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [m, other]);
    const sm = await openStream(edge, m, room.id);
    await removeWithoutPush(room.id, m.id);
    // the stale room still lets the removed member in: this is what the repeat must end
    const spare = await ticket(edge, m.token, "spare", room.id);
    const repeat = await call(edge, "DELETE", `/v1/rooms/${room.id}/members/${m.id}`, { token: owner.token });
    expect(repeat.status).toBe(404);
    expect((await sm.closed).code).toBe(4003);
    await expectShutOut(m, room.id, spare);
    // the others are untouched
    const so = await openStream(edge, other, room.id);
    await so.close();
  });

  it("does not let a member without the right to remove make the room push", async () => {
    const [owner, m, plain] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [m, plain]);
    const sm = await openStream(edge, m, room.id);
    await removeWithoutPush(room.id, m.id);
    const res = await call(edge, "DELETE", `/v1/rooms/${room.id}/members/${m.id}`, { token: plain.token });
    expect(res.status).toBe(404);
    // nothing reached the room: the stream is still open and answers
    sm.send({ type: "ping", id: "p" });
    expect(await sm.takeType("pong")).toBeTruthy();
    await sm.close();
  });

  it("reaches the room from the durable retry's alarm, with no request to repeat it", async () => {
    const [owner, m] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, owner, [m]);
    const sm = await openStream(edge, m, room.id);
    const v = await removeWithoutPush(room.id, m.id);
    const spare = await ticket(edge, m.token, "spare", room.id);
    // what pushRoomState does after its fourth failure
    const ns = await edge.mf.getDurableObjectNamespace("ROOM_SYNC_RETRY");
    const retry = ns.get(ns.idFromName(room.id)) as unknown as {
      schedule(roomId: string, version: number | null): Promise<{ version: number | null }>;
      pending(): Promise<unknown>;
    };
    const scheduledAt = Date.now();
    const scheduled = await retry.schedule(room.id, v);
    expect(scheduled.version).toBe(v);
    const closed = await sm.closed;
    expect(closed.code).toBe(4003);
    // within the first retry's delay (1 s ± 20 %), not at some later request
    expect(sm.closedAt! - scheduledAt).toBeLessThan(3000);
    await expectShutOut(m, room.id, spare);
    expect(await retry.pending()).toBeNull();
  });
});
