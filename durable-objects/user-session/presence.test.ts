import { describe, expect, it } from "vitest";
import type { SocketHost } from "../shared/sockets.js";
import { Presence, type PresenceStore } from "./presence.js";

function fake(o: { watchers: string[]; watching: Record<string, string[]>; mayWatchMe: string[]; mayISee: string[] }) {
  let watchers = [...o.watchers];
  const watching = new Map(Object.entries(o.watching).map(([d, us]) => [d, new Set(us)]));
  const told: string[] = [];
  const store: PresenceStore = {
    get: () => "me",
    setWatching: () => {},
    addWatcher: (u) => void watchers.push(u),
    watchers: () => [...watchers],
    removeWatchers: (ids) => void (watchers = watchers.filter((w) => !ids.includes(w))),
    devicesWatching: (u) => [...watching].filter(([, us]) => us.has(u)).map(([d]) => d),
    watchedUsers: () => [...new Set([...watching.values()].flatMap((us) => [...us]))],
    unwatchUsers: (ids) => {
      for (const us of watching.values()) for (const id of ids) us.delete(id);
    },
  };
  const presence = new Presence({
    store,
    sockets: {} as SocketHost,
    peer: (u) => ({
      watch: async () => ({ status: "offline" }),
      presenceChanged: async () => ({ watching: true }),
      unwatch: async (w) => void told.push(`${u} forgets ${w}`),
    }),
    watchable: async (_me, ids) => ids.filter((id) => o.mayISee.includes(id)),
    allowedWatchers: async (_me, ids) => ids.filter((id) => o.mayWatchMe.includes(id)),
  });
  return { presence, told, watchers: () => watchers, watched: () => store.watchedUsers() };
}

describe("Presence.recheck", () => {
  it("forgets watchers who may no longer see this user, and makes the users it may no longer see forget it", async () => {
    const f = fake({
      watchers: ["w1", "w2", "w3"],
      watching: { phone: ["a", "b"], laptop: ["b", "c"] },
      mayWatchMe: ["w2"],
      mayISee: ["a"],
    });
    expect(await f.presence.recheck("me")).toEqual({ dropped: ["w1", "w3"], unwatched: ["b", "c"] });
    expect(f.watchers()).toEqual(["w2"]);
    expect(f.watched()).toEqual(["a"]);
    expect(f.told.sort()).toEqual(["b forgets me", "c forgets me"]);
  });

  it("asks nothing and changes nothing when nobody watches and nothing is watched", async () => {
    const f = fake({ watchers: [], watching: {}, mayWatchMe: [], mayISee: [] });
    expect(await f.presence.recheck("me")).toEqual({ dropped: [], unwatched: [] });
    expect(f.told).toEqual([]);
  });
});
