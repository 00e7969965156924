import { describe, expect, it } from "vitest";
import type { RoomSummary } from "../../protocol/index.js";
import { Subscriptions, type SubscriptionStore } from "./subscriptions.js";

const summary = (room_id: string, last_seq = 1): RoomSummary => ({
  room_id,
  last_seq,
  read_seq: 0,
  last_message: null,
});

function fake(rooms: string[], opts: { online?: boolean; maxRooms?: number; gone?: string[] } = {}) {
  const cache = new Map<string, RoomSummary>();
  const subscribed = new Set<string>();
  const calls: string[] = [];
  const store: SubscriptionStore = {
    cached: (ids) => new Map([...cache].filter(([id]) => !ids || ids.includes(id))),
    replaceSummary: (s) => void cache.set(s.room_id, s),
    dropRoom: (id) => {
      cache.delete(id);
      subscribed.delete(id);
    },
    markSubscribed: (id) => void subscribed.add(id),
    subscribedRoomIds: () => [...subscribed],
    clearSubscribed: () => subscribed.clear(),
  };
  const gone = new Set(opts.gone ?? []);
  const subs = new Subscriptions({
    store,
    maxRooms: opts.maxRooms ?? 100,
    online: () => opts.online ?? true,
    roomIdsOf: async (_u, limit) => rooms.slice(0, limit),
    room: (id) => ({
      subscribe: async () => (calls.push(`subscribe ${id}`), gone.has(id) ? null : summary(id)),
      unsubscribe: async () => void calls.push(`unsubscribe ${id}`),
      summary: async () => (calls.push(`summary ${id}`), gone.has(id) ? null : summary(id, 7)),
    }),
  });
  return { subs, calls, cache, subscribed };
}

describe("Subscriptions", () => {
  it("subscribes the first socket to the most recently active rooms only, up to the bound", async () => {
    const rooms = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const { subs, calls, subscribed } = fake(rooms, { maxRooms: 3 });
    await subs.subscribeAll("u");
    expect(calls).toEqual(["subscribe r0", "subscribe r1", "subscribe r2"]);
    expect([...subscribed]).toEqual(["r0", "r1", "r2"]);
  });

  it("subscribes lazily to the rooms a page of the room list shows, and answers from the cache for the rest", async () => {
    const { subs, calls, subscribed } = fake(["r0", "r1", "r2"], { maxRooms: 1 });
    await subs.subscribeAll("u");
    calls.length = 0;
    const page = await subs.summaries("u", ["r0", "r2"]);
    expect(calls).toEqual(["subscribe r2"]);
    expect(Object.keys(page).sort()).toEqual(["r0", "r2"]);
    expect([...subscribed].sort()).toEqual(["r0", "r2"]);
  });

  it("unsubscribes from exactly what it subscribed to, lazily or not, and forgets rooms it was removed from", async () => {
    const { subs, calls, subscribed } = fake(["r0", "r1", "r2"], { maxRooms: 1, gone: ["r2"] });
    await subs.subscribeAll("u");
    await subs.summaries("u", ["r1", "r2"]);
    expect([...subscribed].sort()).toEqual(["r0", "r1"]);
    calls.length = 0;
    await subs.unsubscribeAll("u");
    expect(calls.sort()).toEqual(["unsubscribe r0", "unsubscribe r1"]);
    expect(subscribed.size).toBe(0);
  });

  it("asks the rooms themselves while offline, subscribing to none", async () => {
    const { subs, calls, subscribed } = fake(["r0", "r1"], { online: false });
    const page = await subs.summaries("u", ["r0", "r1"]);
    expect(calls).toEqual(["summary r0", "summary r1"]);
    expect(page.r0?.last_seq).toBe(7);
    expect(subscribed.size).toBe(0);
  });
});
