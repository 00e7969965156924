// Session sockets: activity for devices without the room's stream, read sync across devices,
// presence, room events, the room list's cache, logout.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import {
  TestSocket,
  eventually,
  openSession,
  openStream,
  sleep,
  ticket,
  upgradeUrl,
} from "../../test/support/sockets.js";
import { direct, group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();

const inspectSession = (userId: string) => {
  const ns = edge.mf.getDurableObjectNamespace("USER_SESSION");
  return ns.then((n) =>
    (
      n.get(n.idFromName(userId)) as unknown as {
        inspect(): Promise<{ online: boolean; rooms: string[]; devices: string[] }>;
      }
    ).inspect(),
  );
};
const inspectRoom = (roomId: string) =>
  edge.mf
    .getDurableObjectNamespace("CHAT_ROOM")
    .then((n) =>
      (n.get(n.idFromName(roomId)) as unknown as { inspect(): Promise<{ subscribed: string[] }> }).inspect(),
    );

describe("session sockets", () => {
  it("subscribes to the user's rooms on the first socket and unsubscribes on the last", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const g = await group(edge, b, [a]);
    const phone = await openSession(edge, a, "phone");
    await eventually(
      async () =>
        (await inspectRoom(room.id)).subscribed.includes(a.id) && (await inspectRoom(g.id)).subscribed.includes(a.id),
    );
    const laptop = await openSession(edge, a, "laptop");
    await phone.close();
    await sleep(100);
    expect((await inspectRoom(room.id)).subscribed).toContain(a.id);
    await laptop.close();
    await eventually(
      async () =>
        !(await inspectRoom(room.id)).subscribed.includes(a.id) && !(await inspectRoom(g.id)).subscribed.includes(a.id),
    );
  });

  it("sends activity to a device without the room's stream and not to one with it", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const bPhone = await openSession(edge, b, "phone");
    const bLaptop = await openSession(edge, b, "laptop");
    const bLaptopStream = await openStream(edge, b, room.id, { device: "laptop" });
    await eventually(async () => (await inspectRoom(room.id)).subscribed.includes(b.id));
    const sa = await openStream(edge, a, room.id);
    sa.send({ type: "send", room_id: room.id, client_message_id: "act-1", body: "ping @b", mentions: [b.id] });
    const activity = await bPhone.takeType("activity");
    expect(activity).toMatchObject({
      room_id: room.id,
      last_seq: 1,
      unread_count: 1,
      mentioned: true,
      message: { seq: 1, body: "ping @b" },
    });
    expect(await bLaptopStream.takeType("message")).toMatchObject({ seq: 1 });
    await sleep(200);
    expect(bLaptop.seen("activity")).toHaveLength(0);
    // the session answered, so the message counts as delivered to b (reported to a once)
    expect(await sa.take((f) => f.type === "receipt" && f.user_id === b.id)).toMatchObject({ delivered_seq: 1 });
    await Promise.all([bPhone, bLaptop, bLaptopStream, sa].map((s) => s.close()));
  });

  // that they are pushed instead is push.test.ts's ("pushes a member whose session answered activity with no socket")
  it("unsubscribes a member whose session answers activity with no socket (no relay here: no push row)", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    // a subscription left behind (say, by a session that died without unsubscribing)
    const rooms = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const stub = rooms.get(rooms.idFromName(room.id)) as unknown as {
      subscribe(u: string): Promise<unknown>;
      inspect(): Promise<{ subscribed: string[]; outbox: Record<string, number> }>;
    };
    await stub.subscribe(b.id);
    expect((await stub.inspect()).subscribed).toContain(b.id);
    const sa = await openStream(edge, a, room.id);
    sa.send({ type: "send", room_id: room.id, client_message_id: "stale", body: "anyone there?" });
    await sa.takeType("ack");
    await eventually(async () => !(await stub.inspect()).subscribed.includes(b.id));
    // without PUSH_RELAY_URL a room queues nothing for a relay (as it would hand nothing to one)
    expect((await stub.inspect()).outbox.push ?? 0).toBe(0);
    await sa.close();
  });

  it("syncs a read from one device to the user's other devices", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    for (const c of ["r1", "r2"]) sa.send({ type: "send", room_id: room.id, client_message_id: c, body: c });
    await sa.takeN("ack", 2);
    const bTablet = await openSession(edge, b, "tablet");
    const bPhone = await openSession(edge, b, "phone");
    const bPhoneStream = await openStream(edge, b, room.id, { device: "phone" });
    bPhoneStream.send({ type: "read", room_id: room.id, seq: 2 });
    expect(await bTablet.takeType("read_sync")).toEqual({ type: "read_sync", room_id: room.id, read_seq: 2 });
    await sleep(150);
    expect(bPhone.seen("read_sync")).toHaveLength(0);
    const list = await call(edge, "GET", "/v1/rooms", { token: b.token });
    expect(list.body.rooms.find((r: { room: { id: string } }) => r.room.id === room.id)).toMatchObject({
      read_seq: 2,
      unread_count: 0,
    });
    await Promise.all([sa, bTablet, bPhone, bPhoneStream].map((s) => s.close()));
  });

  it("keeps the room list's unread counts and last message current, online or not", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    sa.send({ type: "send", room_id: room.id, client_message_id: "u1", body: "while you were away" });
    await sa.takeType("ack");
    const entry = async () =>
      (await call(edge, "GET", "/v1/rooms", { token: b.token })).body.rooms.find(
        (r: { room: { id: string } }) => r.room.id === room.id,
      );
    expect(await entry()).toMatchObject({
      unread_count: 1,
      read_seq: 0,
      last_message: { seq: 1, body: "while you were away" },
    });
    const bs = await openSession(edge, b, "phone");
    await eventually(async () => (await inspectRoom(room.id)).subscribed.includes(b.id));
    sa.send({ type: "send", room_id: room.id, client_message_id: "u2", body: "now you are here" });
    await bs.takeType("activity");
    expect(await entry()).toMatchObject({ unread_count: 2, last_message: { seq: 2 } });
    await Promise.all([sa.close(), bs.close()]);
  });

  it("counts nobody's own messages as unread: sending reads the room, on every device of the sender", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const entry = async (u: Seeded) =>
      (await call(edge, "GET", "/v1/rooms", { token: u.token })).body.rooms.find(
        (r: { room: { id: string } }) => r.room.id === room.id,
      );
    const sb = await openStream(edge, b, room.id);
    for (const id of ["b1", "b2"]) {
      sb.send({ type: "send", room_id: room.id, client_message_id: id, body: `from b ${id}` });
      await sb.take((f) => f.type === "ack" && f.client_message_id === id);
    }
    // a's laptop has the room open and replies; a's phone has only the session socket
    const phone = await openSession(edge, a, "phone");
    await eventually(async () => (await inspectRoom(room.id)).subscribed.includes(a.id));
    const laptop = await openStream(edge, a, room.id, { device: "laptop" });
    laptop.send({ type: "send", room_id: room.id, client_message_id: "a1", body: "a replies" });
    await laptop.take((f) => f.type === "ack");
    expect(await phone.take((f) => f.type === "activity" && f.last_seq === 3)).toMatchObject({ unread_count: 0 });
    // b sees that a read b's messages by replying after them
    expect(await sb.take((f) => f.type === "receipt" && f.user_id === a.id)).toMatchObject({ read_seq: 3 });
    expect(await entry(a)).toMatchObject({ unread_count: 0, read_seq: 3 });
    // a's own messages in a row: still nothing unread for a, and no receipt that tells b nothing
    laptop.send({ type: "send", room_id: room.id, client_message_id: "a2", body: "and again" });
    await laptop.take((f) => f.type === "ack" && f.client_message_id === "a2");
    expect(await phone.take((f) => f.type === "activity" && f.last_seq === 4)).toMatchObject({ unread_count: 0 });
    expect(await entry(a)).toMatchObject({ unread_count: 0, read_seq: 4 });
    expect(await entry(b)).toMatchObject({ unread_count: 2, read_seq: 2 });
    await sb.take((f) => f.type === "message" && f.seq === 4);
    // a receipt would leave right behind the message, in the same turn: give it time to arrive
    await sleep(300);
    expect(sb.frames.filter((f) => f.type === "receipt" && f.user_id === a.id && f.read_seq === 4)).toEqual([]);
    await Promise.all([sb.close(), phone.close(), laptop.close()]);
  });

  it("tells sessions about rooms they join, leave, or that change, and follows new rooms", async () => {
    const [owner, m, n] = (await people(3)) as [Seeded, Seeded, Seeded];
    const ms = await openSession(edge, m);
    const g = await group(edge, owner, [m]);
    expect(await ms.take((f) => f.type === "room" && f.room_id === g.id)).toMatchObject({ event: "created" });
    await eventually(async () => (await inspectRoom(g.id)).subscribed.includes(m.id));
    expect(
      (await call(edge, "PATCH", `/v1/rooms/${g.id}`, { token: owner.token, body: { name: "renamed" } })).status,
    ).toBe(200);
    expect(await ms.take((f) => f.type === "room" && f.room_id === g.id)).toMatchObject({ event: "updated" });
    const ns = await openSession(edge, n);
    expect(
      (await call(edge, "POST", `/v1/rooms/${g.id}/members`, { token: owner.token, body: { user_ids: [n.id] } }))
        .status,
    ).toBe(200);
    expect(await ns.take((f) => f.type === "room")).toMatchObject({ room_id: g.id, event: "member_added" });
    await eventually(async () => (await inspectRoom(g.id)).subscribed.includes(n.id));
    expect((await call(edge, "DELETE", `/v1/rooms/${g.id}/members/${m.id}`, { token: owner.token })).status).toBe(204);
    expect(await ms.take((f) => f.type === "room" && f.event === "member_removed")).toMatchObject({ room_id: g.id });
    await Promise.all([ms.close(), ns.close()]);
  });
});

describe("presence", () => {
  it("answers watch_presence for those who added the watcher and co-members only, then pushes online and offline", async () => {
    const [a, friend, stranger] = (await people(3)) as [Seeded, Seeded, Seeded];
    // friend added a: a may see friend (a adding the stranger would not let a see them)
    expect((await call(edge, "PUT", `/v1/friends/${a.id}`, { token: friend.token })).status).toBe(200);
    expect((await call(edge, "PUT", `/v1/friends/${stranger.id}`, { token: a.token })).status).toBe(200);
    const as = await openSession(edge, a);
    as.send({ type: "watch_presence", user_ids: [friend.id, stranger.id] });
    expect(await as.takeType("presence")).toMatchObject({ user_id: friend.id, status: "offline" });
    await sleep(150);
    expect(as.seen("presence")).toHaveLength(0); // the stranger is not watchable
    const fs = await openSession(edge, friend);
    expect(await as.takeType("presence")).toEqual({ type: "presence", user_id: friend.id, status: "online" });
    const second = await openSession(edge, friend, "second");
    await fs.close();
    await sleep(150);
    expect(as.seen("presence")).toHaveLength(0); // still online on the second device
    await second.close();
    const off = await as.takeType("presence");
    expect(off).toMatchObject({ user_id: friend.id, status: "offline" });
    expect(Date.parse(off.last_seen_at)).toBeGreaterThan(Date.now() - 10_000);
    await as.close();
  });

  it("refuses bad session frames without closing", async () => {
    const [a] = (await people(1)) as [Seeded];
    const s = await openSession(edge, a);
    s.send({ type: "watch_presence", user_ids: Array.from({ length: 201 }, () => a.id) });
    expect(await s.takeType("error")).toMatchObject({ code: "invalid" });
    s.send({ type: "send", room_id: a.id, client_message_id: "x", body: "not here" });
    expect(await s.takeType("error")).toMatchObject({ code: "invalid" });
    s.send('{"type":"ping"}');
    expect(await s.takeType("pong")).toEqual({ type: "pong" });
    // watching is not free: past a few requests the device must wait
    for (let i = 0; i < 6; i++) s.send({ type: "watch_presence", id: `w${i}`, user_ids: [] });
    const limited = await s.take((f) => f.type === "error" && f.code === "rate_limited");
    expect(limited.ref).toBe("w5");
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    expect(s.isClosed).toBe(false);
    await s.close();
  });
});

describe("tickets and logout", () => {
  it("opens a socket once per ticket and refuses bad tickets before upgrading", async () => {
    const [a] = (await people(1)) as [Seeded];
    const t = await ticket(edge, a.token, "phone");
    const s = await TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${t}`));
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${t}`))).rejects.toMatchObject({ status: 401 });
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=nonsense`))).rejects.toMatchObject({
      status: 401,
    });
    // an access token is not a ticket
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${a.token}`))).rejects.toMatchObject({
      status: 401,
    });
    expect((await call(edge, "POST", "/v1/connect/ticket", { body: { device_id: "x" } })).status).toBe(401);
    expect(
      (await call(edge, "POST", "/v1/connect/ticket", { token: a.token, body: { device_id: "no spaces allowed" } }))
        .status,
    ).toBe(400);
    // a room's ticket opens that room's stream only, not a session
    const g = await group(edge, a, []);
    const rt = await ticket(edge, a.token, "phone", g.id);
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${rt}`))).rejects.toMatchObject({ status: 401 });
    const plain = await edge.fetch(`/v1/connect?ticket=${await ticket(edge, a.token, "phone")}`);
    expect(plain.status).toBe(426);
    await s.close();
  });

  it("closes a device's sockets, session and streams, when it logs out", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const login = await call(edge, "POST", "/v1/auth/register", {
      body: { handle: `lo_${Date.now().toString(36)}`, password: "correct horse battery", display_name: "Lo" },
    });
    const me = { id: login.body.user.id, token: login.body.access_token as string };
    const room = await direct(edge, me as Seeded, b);
    const phone = await openSession(edge, me, "phone");
    const phoneStream = await openStream(edge, me, room.id, { device: "phone" });
    const laptop = await openSession(edge, me, "laptop");
    expect(
      (
        await call(edge, "POST", "/v1/auth/logout", {
          token: me.token,
          body: { refresh_token: login.body.refresh_token, device_id: "phone" },
        })
      ).status,
    ).toBe(204);
    expect((await phone.closed).code).toBe(4004);
    expect((await phoneStream.closed).code).toBe(4004);
    expect(phone.closeLagMs()).toBeLessThan(1000);
    expect(phoneStream.closeLagMs()).toBeLessThan(1000);
    await sleep(100);
    expect(laptop.isClosed).toBe(false);
    expect((await inspectSession(me.id)).devices).toEqual(["laptop"]);
    await laptop.close();
    void a;
  });

  it("closes every socket of a suspended user", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s1 = await openSession(edge, a, "one");
    const st = await openStream(edge, a, room.id, { device: "two" });
    await eventually(async () => (await inspectSession(a.id)).rooms.includes(room.id));
    const ns = await edge.mf.getDurableObjectNamespace("USER_SESSION");
    const closed = await (ns.get(ns.idFromName(a.id)) as unknown as { closeAll(): Promise<number> }).closeAll();
    expect(closed).toBe(2);
    expect((await s1.closed).code).toBe(4005);
    expect((await st.closed).code).toBe(4005);
    expect(s1.closeLagMs()).toBeLessThan(1000);
    expect(st.closeLagMs()).toBeLessThan(1000);
    await eventually(async () => !(await inspectRoom(room.id)).subscribed.includes(a.id));
  });
});
