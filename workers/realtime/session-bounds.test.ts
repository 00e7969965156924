// What one user's session may cost: the first socket subscribes to a bounded number of rooms
// (latest activity first, the rest lazily), and logout reaches every stream of the device, also in
// rooms the session never subscribed to.
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { eventually, openSession, openStream, sleep } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";
import type { Room } from "../../protocol/index.js";

const edge = useEdge({ SESSION_SUBSCRIBE_MAX_ROOMS: "2" });

const inspectSession = async (userId: string) => {
  const n = await edge.mf.getDurableObjectNamespace("USER_SESSION");
  return (
    n.get(n.idFromName(userId)) as unknown as { inspect(): Promise<{ rooms: string[]; subscribed: string[] }> }
  ).inspect();
};
const subscribedIn = async (roomId: string) => {
  const n = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
  return (await (n.get(n.idFromName(roomId)) as unknown as { inspect(): Promise<{ subscribed: string[] }> }).inspect())
    .subscribed;
};

/** Four groups of `me`, the first the least recently active. */
async function fourRooms(me: Seeded, other: Seeded): Promise<Room[]> {
  const rooms: Room[] = [];
  for (let i = 0; i < 4; i++) rooms.push(await group(edge, other, [me], `g${i}`));
  for (const [i, r] of rooms.entries()) {
    await db().query(`update chat_rooms set updated_at = now() - make_interval(mins => $2) where id = $1`, [
      r.id,
      10 - i,
    ]);
  }
  return rooms;
}

describe("a session's subscriptions", () => {
  it("subscribes the first socket to the most recently active rooms only, and the others when listed", async () => {
    const [me, other] = (await people(2)) as [Seeded, Seeded];
    const rooms = await fourRooms(me, other);
    const s = await openSession(edge, me);
    await eventually(async () => (await inspectSession(me.id)).subscribed.length === 2);
    await sleep(200);
    expect((await inspectSession(me.id)).subscribed.sort()).toEqual([rooms[2]!.id, rooms[3]!.id].sort());
    expect(await subscribedIn(rooms[0]!.id)).not.toContain(me.id);
    expect(await subscribedIn(rooms[3]!.id)).toContain(me.id);

    // the room list shows all four: those it shows are subscribed from now on
    const list = await call(edge, "GET", "/v1/rooms", { token: me.token });
    expect(list.status).toBe(200);
    expect(list.body.rooms).toHaveLength(4);
    expect(await subscribedIn(rooms[0]!.id)).toContain(me.id);
    expect((await inspectSession(me.id)).subscribed).toHaveLength(4);

    // and it hears of a message there without a stream
    const st = await openStream(edge, other, rooms[0]!.id);
    st.send({ type: "send", room_id: rooms[0]!.id, client_message_id: "late-1", body: "hello" });
    expect(await s.take((f) => f.type === "activity" && f.room_id === rooms[0]!.id)).toMatchObject({ last_seq: 1 });

    await s.close();
    await eventually(async () => !(await subscribedIn(rooms[0]!.id)).includes(me.id));
    expect(await subscribedIn(rooms[3]!.id)).not.toContain(me.id);
    await st.close();
  });
});

describe("logout", () => {
  it("closes the device's session socket and every stream, in rooms the session never subscribed to too", async () => {
    const [other] = (await people(1)) as [Seeded];
    const reg = await call(edge, "POST", "/v1/auth/register", {
      body: { handle: `lb_${Date.now().toString(36)}`, password: "correct horse battery", display_name: "Lb" },
    });
    expect(reg.status).toBe(201);
    const me = { id: reg.body.user.id as string, token: reg.body.access_token as string } as Seeded;
    const rooms = await fourRooms(me, other);
    const session = await openSession(edge, me, "phone");
    await eventually(async () => (await inspectSession(me.id)).subscribed.length === 2);
    const streams = await Promise.all(rooms.map((r) => openStream(edge, me, r.id, { device: "phone" })));
    const otherDevice = await openStream(edge, me, rooms[0]!.id, { device: "laptop" });
    // the oldest rooms are not in the session's cache: only the rooms can close those streams
    const known = await inspectSession(me.id);
    expect(known.rooms).not.toContain(rooms[0]!.id);
    expect(known.subscribed).not.toContain(rooms[1]!.id);

    const t0 = Date.now();
    const out = await call(edge, "POST", "/v1/auth/logout", {
      token: me.token,
      body: { refresh_token: reg.body.refresh_token, device_id: "phone" },
    });
    expect(out.status).toBe(204);
    for (const s of [session, ...streams]) {
      expect((await s.closed).code).toBe(4004);
      expect(s.closingAt! - t0).toBeLessThan(1000);
      expect(s.closeLagMs()).toBeLessThan(1000);
    }
    await sleep(100);
    expect(otherDevice.isClosed).toBe(false);
    await otherDevice.close();
  });
});
