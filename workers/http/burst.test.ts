// A burst of valid requests never gets a 5xx. Every request that needs PostgreSQL opens its own
// connection through the Neon proxy, and the server allows 100: the local proxy holds a budget
// and queues beyond it; the connect path (tickets for a room) needs no PostgreSQL at all.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWsProxy, type WsProxy } from "../../db/local/index.js";
import { call, closeDb } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const BUDGET = { budget: 8, reserve: 4, reserveAfterMs: 500 };
let edge: Edge;
let proxy: WsProxy;
beforeAll(async () => {
  proxy = await startWsProxy({ budget: BUDGET });
  edge = await startEdge(testEdgeOptions({ NEON_WS_PROXY: proxy.endpoint }));
});
afterAll(async () => {
  await edge?.close();
  await proxy?.close().catch(() => {});
  await closeDb();
});

const statuses = (answers: Array<{ status: number }>) => {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
};

describe("a burst of 300 concurrent requests", () => {
  it("that each need PostgreSQL all succeed, within the proxy's connection budget", async () => {
    const users = await people(30);
    const [owner, ...rest] = users as [Seeded, ...Seeded[]];
    await group(edge, owner, rest.slice(0, 5));
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const u = users[i % users.length]!;
        // GET /rooms reads PostgreSQL and then the user's session; GET /users searches PostgreSQL
        return i % 2
          ? call(edge, "GET", "/v1/rooms", { token: u.token })
          : call(edge, "GET", `/v1/users?q=${encodeURIComponent(owner.handle.slice(0, 6))}`, { token: u.token });
      }),
    );
    expect(statuses(answers)).toEqual({ 200: 300 });
    const { peak, held, waiting } = proxy.stats();
    // it queued: 300 requests never held more than budget + reserve connections
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(BUDGET.budget + BUDGET.reserve);
    expect(waiting).toBe(0);
    expect(held).toBeLessThanOrEqual(BUDGET.budget + BUDGET.reserve);
  }, 90_000);

  it("of tickets for one member of one room all succeed without touching PostgreSQL", async () => {
    const [owner, m] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, owner, [m]);
    // the room holds its membership copy from the creation's push; from here on the connect path
    // is the room's: with the proxy's budget at its smallest this burst could not fit through it
    const before = proxy.stats().peak;
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        call(edge, "POST", "/v1/connect/ticket", { token: m.token, body: { device_id: `d${i}`, room_id: room.id } }),
      ),
    );
    expect(statuses(answers)).toEqual({ 200: 300 });
    expect(proxy.stats().peak).toBe(before);
  });
});
