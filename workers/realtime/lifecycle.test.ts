// Time and restarts: state surviving a restart, silent sockets, token expiry, ticket expiry,
// empty-room cleanup and retention, each with short timers configured the way an operator would.
import { SignJWT, importJWK } from "jose";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { call, closeDb, tokenFor } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import {
  TestSocket,
  eventually,
  openSession,
  openStream,
  sleep,
  ticket,
  upgradeUrl,
} from "../../test/support/sockets.js";
import { direct, group, people, roomRow, type Seeded } from "../../test/support/rooms.js";

const dirs: string[] = [];
const edges: Edge[] = [];
afterAll(async () => {
  await Promise.all(edges.map((e) => e.close().catch(() => {})));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await closeDb();
});
async function edgeWith(vars: Record<string, string>, persist?: string) {
  const e = await startEdge(testEdgeOptions(vars, { persist }));
  edges.push(e);
  return e;
}

describe("a restart", () => {
  it("keeps messages, seq and dedupe keys across a restart of the objects", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "edge-chat-do-"));
    dirs.push(dir);
    const first = await edgeWith({}, dir);
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(first, a, b);
    const s1 = await openStream(first, a, room.id);
    s1.send({ type: "send", room_id: room.id, client_message_id: "before", body: "before the restart" });
    const ack1 = await s1.take((f) => f.type === "ack");
    await s1.close();
    await first.close();

    const second = await edgeWith({}, dir);
    const s2 = await openStream(second, a, room.id, { afterSeq: 0, waitSynced: false });
    await s2.takeType("synced");
    expect(s2.seen("message").map((m) => [m.seq, m.body])).toEqual([[1, "before the restart"]]);
    s2.send({ type: "send", room_id: room.id, client_message_id: "before", body: "before the restart" });
    expect(await s2.take((f) => f.type === "ack")).toMatchObject({
      seq: 1,
      message_id: ack1.message_id,
      duplicate: true,
    });
    s2.send({ type: "send", room_id: room.id, client_message_id: "after", body: "after the restart" });
    expect(await s2.take((f) => f.type === "ack")).toMatchObject({ seq: 2 });
    await s2.close();
  });
  it("runs a room's alarm that fires after the runtime restarted, in an object nobody woke", async () => {
    // A cold object woken by its alarm has no ctx.id.name: it must know its room from storage.
    const dir = mkdtempSync(path.join(tmpdir(), "edge-chat-do-"));
    dirs.push(dir);
    const vars = { EMPTY_ROOM_TTL_SECONDS: "3" };
    const first = await edgeWith(vars, dir);
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(first, a, b);
    await first.close();
    expect((await roomRow(room.id)).status).toBe(1);

    await edgeWith(vars, dir);
    // nothing calls the room: only its alarm can mark it cleaned in PostgreSQL
    await eventually(async () => (await roomRow(room.id)).status === 3, 15_000, 250);
  });
});

describe("sockets over time", () => {
  it("closes a silent socket and keeps one that pings", async () => {
    const edge = await edgeWith({ SILENT_SOCKET_SECONDS: "2" });
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const silentStream = await openStream(edge, a, room.id, { device: "silent" });
    const silentSession = await openSession(edge, a, "silent");
    const chatty = await openStream(edge, b, room.id, { device: "chatty" });
    const timer = setInterval(() => chatty.send('{"type":"ping"}'), 400);
    const [s1, s2] = await Promise.all([silentStream.closed, silentSession.closed]);
    expect(s1.code).toBe(4002);
    expect(s2.code).toBe(4002);
    expect(silentStream.closeLagMs()).toBeLessThan(1000);
    expect(silentSession.closeLagMs()).toBeLessThan(1000);
    await sleep(1500);
    clearInterval(timer);
    expect(chatty.isClosed).toBe(false);
    expect(chatty.seen("pong").length).toBeGreaterThan(3);
    await chatty.close();
  });

  it("closes a socket when its token expires unless an auth frame brought a fresh one", async () => {
    const edge = await edgeWith({});
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const short = { token: await tokenFor(a, 3) };
    const expiring = await openStream(edge, short, room.id, { device: "one" });
    const refreshed = await openStream(edge, short, room.id, { device: "two" });
    const session = await openSession(edge, short, "three");
    refreshed.send({ type: "auth", access_token: await tokenFor(a, 600) });
    session.send({ type: "auth", access_token: await tokenFor(b, 600) }); // someone else's token
    expect(await session.takeType("error")).toMatchObject({ code: "unauthorized" });
    expect((await expiring.closed).code).toBe(4001);
    expect((await session.closed).code).toBe(4001);
    expect(expiring.closeLagMs()).toBeLessThan(1000);
    expect(session.closeLagMs()).toBeLessThan(1000);
    await sleep(1200);
    expect(refreshed.isClosed).toBe(false);
    await refreshed.close();
  });

  it("refuses an expired ticket before upgrading", async () => {
    const edge = await edgeWith({});
    const [a] = (await people(1)) as [Seeded];
    const jwk = JSON.parse(inject("privateJwk"));
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ dev: "d", tex: now + 600 })
      .setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "ticket+jwt" })
      .setIssuer("edge-chat")
      .setAudience("edge-chat:connect")
      .setSubject(a.id)
      .setJti(crypto.randomUUID())
      .setIssuedAt(now - 60)
      .setExpirationTime(now - 30)
      .sign(await importJWK(jwk, "ES256"));
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${expired}`))).rejects.toMatchObject({
      status: 401,
    });
    // the same ticket, still valid, works: only expiry was wrong
    const good = await ticket(edge, a.token, "d");
    const s = await TestSocket.open(upgradeUrl(edge, `/v1/connect?ticket=${good}`));
    await s.close();
  });
});

describe("rooms over time", () => {
  it("cleans up a direct room opened and never used, and not a quiet group or a room with messages", async () => {
    const edge = await edgeWith({ EMPTY_ROOM_TTL_SECONDS: "2" });
    const [a, b, c, d] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const quiet = await group(edge, a, [b], "quiet");
    const usedDm = await direct(edge, a, d);
    const dm = await direct(edge, a, c);
    const s = await openStream(edge, a, usedDm.id);
    s.send({ type: "send", room_id: usedDm.id, client_message_id: "keep", body: "keeps the room" });
    await s.takeType("ack");
    await s.close();
    await eventually(async () => (await roomRow(dm.id)).status === 3, 10_000, 200);
    // well past the idle limit: the group nobody wrote in is still there, listed and usable
    await sleep(2500);
    expect((await roomRow(quiet.id)).status).toBe(1);
    expect((await roomRow(usedDm.id)).status).toBe(1);
    expect((await call(edge, "GET", `/v1/rooms/${quiet.id}`, { token: b.token })).status).toBe(200);
    expect(
      (await call(edge, "GET", "/v1/rooms", { token: b.token })).body.rooms.map(
        (r: { room: { id: string } }) => r.room.id,
      ),
    ).toEqual([quiet.id]);
    const sb = await openStream(edge, b, quiet.id);
    sb.send({ type: "send", room_id: quiet.id, client_message_id: "late", body: "still here" });
    expect(await sb.takeType("ack")).toMatchObject({ seq: 1 });
    await sb.close();

    // opening the pair's direct room again brings back the same room, working
    const again = await call(edge, "POST", "/v1/rooms", { token: c.token, body: { type: "direct", peer_id: a.id } });
    expect(again.status).toBe(200);
    expect(again.body.room.id).toBe(dm.id);
    const sc = await openStream(edge, c, dm.id);
    sc.send({ type: "send", room_id: dm.id, client_message_id: "back", body: "we are back" });
    expect(await sc.takeType("ack")).toMatchObject({ seq: 1 });
    await sc.close();
  });

  it("cleans a group when its last member leaves, and its object drops its storage once archived", async () => {
    const edge = await edgeWith({});
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const inspect = (id: string) =>
      (ns.get(ns.idFromName(id)) as unknown as { inspect(): Promise<{ meta: { active: boolean } | null }> }).inspect();
    const leave = (roomId: string, who: Seeded) =>
      call(edge, "DELETE", `/v1/rooms/${roomId}/members/${who.id}`, { token: who.token });
    const g = await group(edge, a, [b], "short-lived");
    const kept = await group(edge, a, [b], "with a message");
    const sa = await openStream(edge, a, kept.id);
    sa.send({ type: "send", room_id: kept.id, client_message_id: "m1", body: "bye all" });
    await sa.takeType("ack");
    await sa.close();
    expect((await inspect(g.id)).meta).toMatchObject({ active: true });

    expect((await leave(g.id, b)).status).toBe(204);
    expect((await roomRow(g.id)).status).toBe(1); // a is still in it
    expect((await leave(g.id, a)).status).toBe(204);
    expect((await roomRow(g.id)).status).toBe(3);
    await eventually(async () => (await inspect(g.id)).meta === null, 5000, 100);
    expect((await call(edge, "GET", `/v1/rooms/${g.id}`, { token: a.token })).status).toBe(404);

    for (const u of [a, b]) expect((await leave(kept.id, u)).status).toBe(204);
    expect((await roomRow(kept.id)).status).toBe(3);
    expect((await call(edge, "GET", "/v1/rooms", { token: a.token })).body.rooms).toEqual([]);
    // no sink in this edge: the message waits in the outbox, so the storage stays (closed) until archived
    await sleep(300);
    expect((await inspect(kept.id)).meta).toMatchObject({ active: false });
  });

  it("keeps a room while a member is online, even with no messages", async () => {
    const edge = await edgeWith({ EMPTY_ROOM_TTL_SECONDS: "2" });
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const session = await openSession(edge, a);
    const room = await direct(edge, a, b);
    await sleep(3500);
    expect((await roomRow(room.id)).status).toBe(1);
    await session.close();
    await eventually(async () => (await roomRow(room.id)).status === 3, 10_000, 200);
  });

  it("drops messages past retention from a room nobody touches", async () => {
    const edge = await edgeWith({ RETENTION_DAYS: String(2 / 86_400) });
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    s.send({ type: "send", room_id: room.id, client_message_id: "old", body: "soon gone" });
    await s.takeType("ack");
    await s.close();
    const page = async () =>
      (await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: b.token })).body.messages.length;
    expect(await page()).toBe(1);
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const inspect = () => (ns.get(ns.idFromName(room.id)) as unknown as { inspect(): Promise<unknown> }).inspect();
    // the room's alarm is due when its oldest message passes retention
    const before = (await inspect()) as { alarm: number | null };
    expect(before.alarm).not.toBeNull();
    await eventually(async () => (await page()) === 0, 15_000, 250).catch(async (err) => {
      throw new Error(`${String(err)}; room state: ${JSON.stringify(await inspect())}; now ${Date.now()}`);
    });
  });
});
