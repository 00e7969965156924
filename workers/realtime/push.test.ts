// The push outbox end to end: rooms on a real edge hand their batches to a local stand-in of the
// push-relay (test/support/push-relay-stand-in.ts), which checks the secret and validates every
// body with the real PushBatch schema. Who is named, muted and hidden members, the one-request-a-
// second window, an outage, a refused secret, reads, and a room above 100 members.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PushBatch } from "../../protocol/index.js";
import { call, closeDb } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { startRelayStandIn, type RelayStandIn } from "../../test/support/push-relay-stand-in.js";
import { direct, group, NOT_A_ROOM, people, type Seeded } from "../../test/support/rooms.js";
import { eventually, openSession, openStream, sleep, type TestSocket } from "../../test/support/sockets.js";

const SECRET = "push-relay-test-secret-0123456789";
let relay: RelayStandIn;
let edge: Edge;

interface Inspected {
  subscribed: string[];
  outbox: Record<string, number>;
  relay: { unauthorized: number; refusing: boolean } | null;
}

beforeAll(async () => {
  relay = await startRelayStandIn(SECRET);
  edge = await startEdge(
    testEdgeOptions({
      PUSH_RELAY_URL: relay.url,
      PUSH_RELAY_SECRET: SECRET,
      PUSH_RETRY_MAX_SECONDS: "1",
      SEND_BURST: "5000",
      SEND_RATE_PER_SECOND: "5000",
      FRAME_BURST: "5000",
      FRAME_RATE_PER_SECOND: "5000",
    }),
  );
}, 60_000);
afterAll(async () => {
  await edge?.close();
  await relay?.close();
  await closeDb();
});

async function room(roomId: string) {
  const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
  return ns.get(ns.idFromName(roomId)) as unknown as {
    inspect(): Promise<Inspected>;
    subscribe(userId: string): Promise<unknown>;
  };
}
const inspect = async (roomId: string) => (await room(roomId)).inspect();

let n = 0;
async function send(s: TestSocket, roomId: string, body: string, extra: Record<string, unknown> = {}) {
  const cmid = `push-${++n}`;
  s.send({ type: "send", room_id: roomId, client_message_id: cmid, body, ...extra });
  return s.take((f) => f.type === "ack" && f.client_message_id === cmid);
}
const seqsOf = (batches: PushBatch[]) => batches.flatMap((b) => b.messages.map((m) => m.seq));
/** the room's batches, once they carry `seq` */
const batchesWith = (roomId: string, seq: number, timeoutMs = 10_000) =>
  eventually(async () => (seqsOf(relay.of(roomId)).includes(seq) ? relay.of(roomId) : null), timeoutMs);
const batchWith = async (roomId: string, seq: number) =>
  (await batchesWith(roomId, seq)).find((b) => b.messages.some((m) => m.seq === seq))!;
const subscribed = (roomId: string, userId: string, yes = true) =>
  eventually(async () => (await inspect(roomId)).subscribed.includes(userId) === yes, 10_000);

describe("the push outbox", () => {
  it("names an offline member in a batch with the message, the room and its last seq", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, a, [b], "push team");
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "hello b");
    const batch = await batchWith(g.id, 1);
    expect(batch).toEqual({
      batch_id: expect.stringMatching(new RegExp(`^${g.id}:\\d+:\\d+$`)),
      room_id: g.id,
      room_type: "group",
      room_name: "push team",
      last_seq: 1,
      messages: [
        {
          seq: 1,
          sender_id: a.id,
          preview: "hello b",
          mentions: [],
          mention_all: false,
          created_at: expect.any(String),
        },
      ],
      audience: { mode: "only", user_ids: [b.id], quiet: [] },
      reads: [{ user_id: b.id, read_seq: 0 }],
    });
    // a direct room has no name; previews are cut to 200 characters
    const d = await direct(edge, a, b);
    const sd = await openStream(edge, a, d.id);
    await send(sd, d.id, "é".repeat(300));
    const dm = await batchWith(d.id, 1);
    expect(dm).toMatchObject({ room_type: "direct", room_name: null });
    expect(dm.messages[0]!.preview).toBe("é".repeat(200));
    expect((await inspect(d.id)).outbox.push ?? 0).toBe(0);
    await Promise.all([sa.close(), sd.close()]);
  });

  it("leaves out members who are online: a session socket, or the room's stream", async () => {
    const [a, online, streaming, offline] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const g = await group(edge, a, [online, streaming, offline]);
    const session = await openSession(edge, online);
    await subscribed(g.id, online.id);
    const ss = await openStream(edge, streaming, g.id);
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "who is around?");
    expect(await session.takeType("activity")).toMatchObject({ room_id: g.id, last_seq: 1 });
    expect((await batchWith(g.id, 1)).audience).toEqual({ mode: "only", user_ids: [offline.id], quiet: [] });
    await Promise.all([session.close(), ss.close(), sa.close()]);
  });

  it("tells a muted member only of what mentions them, and their other devices of the setting", async () => {
    const [a, m, other] = (await people(3)) as [Seeded, Seeded, Seeded];
    const g = await group(edge, a, [m, other]);
    const laptop = await openSession(edge, m, "laptop");
    await subscribed(g.id, m.id);
    const res = await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: m.token, body: { muted: true } });
    expect(res.body).toEqual({ muted: true, hidden: false });
    expect(await laptop.takeType("room")).toEqual({ type: "room", room_id: g.id, event: "settings" });
    // the same settings again change nothing, and nobody is told
    await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: m.token, body: { muted: true } });
    await sleep(300);
    expect(laptop.seen("room")).toHaveLength(0);
    await laptop.close();
    await subscribed(g.id, m.id, false);

    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "not about you");
    expect((await batchWith(g.id, 1)).audience).toEqual({ mode: "only", user_ids: [other.id], quiet: [] });
    await send(sa, g.id, "@m look", { mentions: [m.id] });
    const mentioned = await batchWith(g.id, 2);
    expect(mentioned.audience).toEqual({ mode: "only", user_ids: [m.id, other.id].sort(), quiet: [m.id] });
    expect(mentioned.messages).toEqual([expect.objectContaining({ seq: 2, mentions: [m.id] })]);
    // the owner may mention everyone: that reaches the muted member too
    await send(sa, g.id, "@all", { mention_all: true });
    expect((await batchWith(g.id, 3)).audience).toMatchObject({ quiet: [m.id] });
    await sa.close();
  });

  it("pushes a member who hid the room only what mentions them", async () => {
    const [a, h] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, a, [h]);
    await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: h.token, body: { hidden: true } });
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "quiet");
    await send(sa, g.id, "@h", { mentions: [h.id] });
    const batches = await batchesWith(g.id, 2);
    expect(seqsOf(batches)).toEqual([2]);
    expect(batches.at(-1)!.audience).toEqual({ mode: "only", user_ids: [h.id], quiet: [h.id] });
    await sa.close();
  });

  it("pushes a member whose session answered activity with no socket (unsubscribed, then named)", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    // a subscription left behind by a session that died: at the commit b looks online
    await (await room(d.id)).subscribe(b.id);
    const sa = await openStream(edge, a, d.id);
    await send(sa, d.id, "anyone there?");
    expect((await batchWith(d.id, 1)).audience).toEqual({ mode: "only", user_ids: [b.id], quiet: [] });
    expect((await inspect(d.id)).subscribed).not.toContain(b.id);
    await sa.close();
  });

  it("sends fifty messages sent fast in a few requests, at most one a second, each seq once", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    const started = Date.now();
    for (let i = 0; i < 50; i++) sa.send({ type: "send", room_id: d.id, client_message_id: `fast-${i}`, body: `${i}` });
    await sa.takeN("ack", 50);
    const batches = await batchesWith(d.id, 50);
    const elapsedS = (Date.now() - started) / 1000;
    const requests = relay.requests.filter((r) => r.roomId === d.id);
    expect(requests.length).toBeLessThanOrEqual(elapsedS + 1);
    expect(seqsOf(batches)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const at = requests.map((r) => r.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(900);
    await sa.close();
  });

  it("acks every send while the relay is down, and every seq reaches it once it is back", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    await relay.down();
    try {
      for (let i = 0; i < 100; i++)
        sa.send({ type: "send", room_id: d.id, client_message_id: `down-${i}`, body: `while down ${i}` });
      const acks = await sa.takeN("ack", 100, 20_000);
      expect(acks.map((f) => f.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      await sleep(1500); // a few tries fail meanwhile
      expect((await inspect(d.id)).outbox.push).toBeGreaterThan(0);
    } finally {
      await relay.up();
    }
    const batches = await batchesWith(d.id, 100, 20_000);
    expect(seqsOf(batches)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await eventually(async () => ((await inspect(d.id)).outbox.push ?? 0) === 0);
    await sa.close();
  });

  it("counts a relay that refuses the secret, and hands the batch on once it takes it again", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    relay.secret = "the relay moved on to another secret";
    try {
      await send(sa, d.id, "knock knock");
      const seen = await eventually(async () => {
        const i = await inspect(d.id);
        return (i.relay?.unauthorized ?? 0) >= 1 ? i : null;
      }, 10_000);
      expect(seen.relay).toMatchObject({ refusing: true });
      expect(seen.outbox.push).toBe(1);
    } finally {
      relay.secret = SECRET;
    }
    expect((await batchWith(d.id, 1)).audience).toMatchObject({ user_ids: [b.id] });
    expect((await inspect(d.id)).relay).toMatchObject({ refusing: false });
    await sa.close();
  });

  it("tells the relay when a member it pushed to reads the room", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    await send(sa, d.id, "one");
    await send(sa, d.id, "two");
    await batchesWith(d.id, 2);
    const sb = await openStream(edge, b, d.id);
    sb.send({ type: "read", room_id: d.id, seq: 2 });
    const read = await eventually(async () =>
      relay.of(d.id).find((x) => x.reads.some((r) => r.user_id === b.id && r.read_seq === 2)),
    );
    // b is online now, and a streams: a batch of reads only
    expect(read).toMatchObject({ messages: [], audience: null, reads: [{ user_id: b.id, read_seq: 2 }] });
    await Promise.all([sa.close(), sb.close()]);
  });

  it("names only who to leave out in a room above 100 members", async () => {
    const users = (await people(101)) as Seeded[];
    const [owner, online, ...rest] = users as [Seeded, Seeded, ...Seeded[]];
    const g = await group(edge, owner, [online, ...rest], "a big room");
    const session = await openSession(edge, online);
    await subscribed(g.id, online.id);
    const so = await openStream(edge, owner, g.id);
    await send(so, g.id, "to the many");
    const batch = await batchWith(g.id, 1);
    expect(batch.audience?.mode).toBe("except");
    expect([...batch.audience!.user_ids].sort()).toEqual([owner.id, online.id].sort());
    // the offline members' reads come along, so the relay counts their unread from where they are
    expect(batch.reads).toHaveLength(99);
    await Promise.all([session.close(), so.close()]);
  });

  it("a room configured to push unsafely does not start: an empty secret, or plain http to another machine", async () => {
    for (const vars of [
      { PUSH_RELAY_URL: relay.url, PUSH_RELAY_SECRET: "" },
      { PUSH_RELAY_URL: "http://192.0.2.10:8791", PUSH_RELAY_SECRET: "a-secret" },
    ]) {
      const other = await startEdge(testEdgeOptions(vars));
      try {
        // the object does not start: nothing runs (or pushes) on a configuration nobody chose
        const inspectOther = async () => {
          const ns = await other.mf.getDurableObjectNamespace("CHAT_ROOM");
          return (ns.get(ns.idFromName(NOT_A_ROOM)) as unknown as { inspect(): Promise<unknown> }).inspect();
        };
        await expect(inspectOther()).rejects.toThrow(/PUSH_RELAY_SECRET|PUSH_RELAY_URL/);
      } finally {
        await other.close();
      }
    }
  });
});
