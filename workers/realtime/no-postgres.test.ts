// The per-message path never queries PostgreSQL: with the database unreachable, open streams keep
// sending, acking, broadcasting, reading and replaying, and tickets for a room are granted by the
// room's own membership copy; only what needs PostgreSQL (room lists, membership changes) says it
// is unavailable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWsProxy, type WsProxy } from "../../db/local/index.js";
import { call, closeDb } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { openStream } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

let edge: Edge;
let proxy: WsProxy;
beforeAll(async () => {
  // this edge reaches PostgreSQL only through its own proxy, which the test can take away
  proxy = await startWsProxy();
  edge = await startEdge(testEdgeOptions({ NEON_WS_PROXY: proxy.endpoint }));
});
afterAll(async () => {
  await edge?.close();
  await proxy?.close().catch(() => {});
  await closeDb();
});

describe("with PostgreSQL gone", () => {
  it("keeps open streams sending, acking, broadcasting, reading and replaying", async () => {
    const [a, b, c] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, a, [b, c]);
    const sa = await openStream(edge, a, room.id);
    const sb = await openStream(edge, b, room.id);
    await proxy.close();
    // what needs the database fails now...
    expect((await call(edge, "GET", "/v1/rooms", { token: c.token })).status).toBeGreaterThanOrEqual(500);
    // ...but the connect path does not need it: the room's own membership copy grants the ticket
    const t = await call(edge, "POST", "/v1/connect/ticket", {
      token: c.token,
      body: { device_id: "d", room_id: room.id },
    });
    expect(t.status).toBe(200);
    const outsider = await call(edge, "POST", "/v1/connect/ticket", {
      token: (await people(1))[0]!.token,
      body: { device_id: "d", room_id: room.id },
    });
    expect(outsider.status).toBe(403);
    // ...and the room does not notice
    for (let i = 1; i <= 20; i++)
      sa.send({ type: "send", room_id: room.id, client_message_id: `np${i}`, body: `no database ${i}` });
    const acks = await sa.takeN("ack", 20);
    expect(acks.map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await sb.takeN("message", 20)).map((m) => m.seq)).toEqual(acks.map((x) => x.seq));
    sb.send({ type: "read", room_id: room.id, seq: 20 });
    expect(await sa.take((f) => f.type === "receipt" && f.read_seq === 20)).toMatchObject({ user_id: b.id });
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?limit=5`, { token: c.token });
    expect(page.status).toBe(200);
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([20, 19, 18, 17, 16]);
    await Promise.all([sa.close(), sb.close()]);
  });
});
