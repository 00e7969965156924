import { describe, expect, it } from "vitest";
import type { RoomSnapshot } from "../../protocol/index.js";
import type { SocketInfo } from "../shared/sockets.js";
import type { MemberState } from "./members.js";
import { Membership, isBehind, supersedes } from "./membership.js";
import type { RoomMeta } from "./store.js";

const snapshot = (over: Partial<RoomSnapshot> = {}): RoomSnapshot => ({
  room_id: "r",
  version: 2,
  type: "direct",
  active: true,
  members: [
    { user_id: "a", role: "member", can_send: true, joined_at: "t" },
    { user_id: "b", role: "member", can_send: true, joined_at: "t" },
  ],
  blocks: [],
  ...over,
});

function fake(initial: RoomMeta | null, initialLoad: RoomSnapshot | null = null) {
  let load = initialLoad;
  let meta = initial;
  let members: MemberState[] = [];
  const closes: Array<[string, number]> = [];
  const sockets: SocketInfo[] = ["a", "b"].map((u) => ({
    userId: u,
    deviceId: `${u}1`,
    tokenExpiresAt: 0,
    openedAt: 0,
    seenAt: 0,
  }));
  let loads = 0;
  const m = new Membership({
    meta: () => meta,
    members: () => members,
    transaction: (fn) => fn(),
    write: (plan, snap, lastSeq) => {
      members = [...members.filter((x) => !plan.removed.includes(x.user_id)), ...plan.upserts];
      meta = {
        room_id: snap.room_id,
        type: snap.type,
        version: snap.version,
        active: snap.active,
        last_seq: lastSeq,
        last_activity: 0,
      };
    },
    closeWhere: (match, code) => {
      for (const s of sockets) if (match(s)) closes.push([s.userId, code]);
    },
    loadSnapshot: async () => (loads++, load),
    reschedule: async () => {},
  });
  return { m, closes, loads: () => loads, meta: () => meta, willLoad: (s: RoomSnapshot | null) => void (load = s) };
}

describe("Membership", () => {
  it("applies a newer snapshot and ignores one that is not newer", async () => {
    const f = fake(null);
    expect(await f.m.sync(snapshot())).toEqual({ applied: true, version: 2 });
    expect(await f.m.sync(snapshot({ version: 2 }))).toEqual({ applied: false, version: 2 });
    expect(await f.m.sync(snapshot({ version: 1 }))).toEqual({ applied: false, version: 2 });
  });

  it("never applies an older snapshot, whatever its active flag", async () => {
    const f = fake(null);
    await f.m.sync(snapshot({ version: 5 }));
    expect(await f.m.sync(snapshot({ version: 4, active: false }))).toEqual({ applied: false, version: 5 });
    expect(f.meta()).toMatchObject({ version: 5, active: true });
    expect(f.closes).toEqual([]);
    await f.m.sync(snapshot({ version: 6, active: false }));
    // a late push of an active older version does not bring the room back
    expect(await f.m.sync(snapshot({ version: 5, active: true }))).toEqual({ applied: false, version: 6 });
    expect(await f.m.sync(snapshot({ version: 6, active: true }))).toEqual({ applied: false, version: 6 });
    expect(f.meta()).toMatchObject({ version: 6, active: false });
  });

  it("supersedes: newer always, same version only to shut the room", () => {
    const on = { version: 3, active: true };
    const off = { version: 3, active: false };
    expect([supersedes({ version: 4, active: true }, on), supersedes({ version: 2, active: false }, on)]).toEqual([
      true,
      false,
    ]);
    expect([supersedes(off, on), supersedes(on, off), supersedes(on, on), supersedes(off, off)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it("closes the streams of a removed member, of the blocked side of a direct room, and all when the room goes", async () => {
    const f = fake(null);
    await f.m.sync(snapshot());
    await f.m.sync(snapshot({ version: 3, members: snapshot().members.slice(0, 1) }));
    expect(f.closes).toEqual([["b", 4003]]);
    f.closes.length = 0;
    await f.m.sync(snapshot({ version: 4, blocks: [["b", "a"]] }));
    expect(f.closes).toEqual([["a", 4003]]);
    f.closes.length = 0;
    await f.m.sync(snapshot({ version: 5, active: false }));
    expect(f.closes).toEqual([
      ["a", 4006],
      ["b", 4006],
    ]);
  });

  it("loads its snapshot once when it has no state, and keeps none for a room that is gone", async () => {
    const f = fake(null, snapshot());
    const [x, y] = await Promise.all([f.m.ready("r"), f.m.ready("r")]);
    expect(x?.version).toBe(2);
    expect(y?.version).toBe(2);
    expect(f.loads()).toBe(1);
    const gone = fake(null, snapshot({ active: false }));
    expect(await gone.m.ready("r")).toBeNull();
    expect(gone.meta()).toBeNull();
  });

  it("catches up when told of a newer committed version, and only then", async () => {
    expect([isBehind(3, 4), isBehind(4, 4), isBehind(5, 4), isBehind(undefined, 1)]).toEqual([
      true,
      false,
      false,
      true,
    ]);
    const f = fake(null, snapshot());
    await f.m.ready("r");
    expect(f.loads()).toBe(1);
    // at or past the version: nothing to load
    expect(await f.m.catchUp("r", 2)).toEqual({ applied: false, version: 2 });
    expect(f.loads()).toBe(1);
    // PostgreSQL holds version 3 without b (a removal whose push failed): the room reloads, b's streams close
    f.willLoad(snapshot({ version: 3, members: snapshot().members.slice(0, 1) }));
    const [x, y] = await Promise.all([f.m.catchUp("r", 3), f.m.catchUp("r", 3)]);
    expect(x).toEqual({ applied: true, version: 3 });
    expect(y).toEqual({ applied: true, version: 3 });
    expect(f.loads()).toBe(2);
    expect(f.closes).toEqual([["b", 4003]]);
    // an unknown version (the failed push could not even read it) reloads whatever is current
    expect(await f.m.catchUp("r", null)).toEqual({ applied: false, version: 3 });
    expect(f.loads()).toBe(3);
  });

  it("counts a room without a copy as caught up once it loads the current snapshot", async () => {
    const f = fake(null, snapshot({ version: 5 }));
    expect(await f.m.catchUp("r", 5)).toEqual({ applied: true, version: 5 });
    const gone = fake(null, null);
    expect(await gone.m.catchUp("r", 7)).toEqual({ applied: false, version: 7 });
  });
});
