// The push outbox end to end: rooms on a real edge hand their batches to the real push relay
// (startRelay, in this process), which checks the secret, validates every body with the PushBatch
// schema and takes it into the test database. The relay is intake only: push-delivery.test.ts runs
// a dispatching relay on the same database at the same time, and only one may dispatch there.
// What a room sent is read back from what the relay stored: push_batches (one row per batch taken:
// how many requests, how far apart), push_notifications (who was told of how many messages, the
// latest, and whether one mentioned them) and push_unread (the last seq and the read offsets the
// batches carried). Who is named, muted and hidden members, the one-request-a-second window, an
// outage, a refused secret, reads, and a room above 100 members.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PushStatus } from "../../db/index.js";
import { PUSH_AUDIENCE_LIST_MAX } from "../../protocol/index.js";
import { startRelay, type RunningRelay } from "../../push-relay/index.js";
import { call, closeDb, db } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { metricValue } from "../../test/support/push-relay.js";
import { direct, group, NOT_A_ROOM, people, type Seeded } from "../../test/support/rooms.js";
import { eventually, openSession, openStream, sleep, type TestSocket } from "../../test/support/sockets.js";

const SECRET = "push-relay-test-secret-0123456789";
let relay: RunningRelay;
let relayPort: number;
let edge: Edge;

interface Inspected {
  members: number;
  subscribed: string[];
  outbox: Record<string, number>;
  relay: { unauthorized: number; refusing: boolean } | null;
}

/** A relay on the edge's database (the rooms' chat_members are there), on `port` (0: a free one). */
const startOurRelay = (secret: string, port: number) =>
  startRelay({
    secret,
    databaseUrl: inject("databaseUrl"),
    port,
    dispatch: { enabled: false },
  });

beforeAll(async () => {
  relay = await startOurRelay(SECRET, 0);
  relayPort = relay.port;
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
  await relay?.stop();
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
const subscribed = (roomId: string, userId: string, yes = true) =>
  eventually(async () => (await inspect(roomId)).subscribed.includes(userId) === yes, 10_000);

interface Told {
  /** the latest message they were told of */
  seq: number;
  /** how many messages they were told of */
  count: number;
  /** whether one of them mentioned them */
  mentioned: boolean;
}

/**
 * What the relay took in for each recipient of the room. Summed over the recipient's rows: the
 * dispatcher of push-delivery.test.ts may take a pending row meanwhile (these users have no device,
 * so it fails), and the next message then starts a new one. A message in two batches (two batch
 * ids) would count twice, one in none not at all.
 */
async function told(roomId: string): Promise<Record<string, Told>> {
  const { rows } = await db().query<Told & { user_id: string }>(
    `select user_id, max(seq)::int as seq, sum(count)::int as count, bool_or(mentioned) as mentioned
     from push_notifications where room_id = $1 group by user_id`,
    [roomId],
  );
  return Object.fromEntries(rows.map(({ user_id, ...t }) => [user_id, t]));
}
/**
 * Once the relay has taken the batch telling `userId` of `seq`: one transaction, so all of its
 * recipients are in. These tests check what was told, not how fast (the one-a-second spacing has
 * its own test): the wait is long because a file's first batch, in a full run's busiest minute,
 * took over 10 s twice in about ten runs (the room's first tries answered "connection lost" and
 * its backoff grew).
 */
const toldOf = (roomId: string, userId: string, seq: number, timeoutMs = 30_000) =>
  eventually(async () => {
    const t = await told(roomId);
    return (t[userId]?.seq ?? 0) >= seq ? t : null;
  }, timeoutMs);
/** The banner the relay rendered from the room's latest message for `userId`. */
const banner = async (roomId: string, userId: string) =>
  (
    await db().query<{ sender_id: string; title: string; body: string }>(
      `select sender_id, title, body from push_notifications where room_id = $1 and user_id = $2
       order by seq desc limit 1`,
      [roomId, userId],
    )
  ).rows[0];
/** The batches the relay took from the room, oldest first (a resent one is taken once). */
const batchesOf = async (roomId: string) =>
  (
    await db().query<{ batch_id: string; received_at: Date }>(
      `select batch_id, received_at from push_batches where room_id = $1 order by received_at, batch_id`,
      [roomId],
    )
  ).rows;
const unreadOf = async (roomId: string) =>
  Object.fromEntries(
    (
      await db().query<{ user_id: string; last_seq: number; read_seq: number }>(
        `select user_id, last_seq::int, read_seq::int from push_unread where room_id = $1`,
        [roomId],
      )
    ).rows.map(({ user_id, ...u }) => [user_id, u]),
  );
const each = <T>(users: Seeded[], v: T) => Object.fromEntries(users.map((u) => [u.id, v]));

describe("the push outbox", { timeout: 60_000 }, () => {
  it("names an offline member in a batch with the message, the room and its last seq", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, a, [b], "push team");
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "hello b");
    // b was named, and b only; the relay validated the whole batch (created_at included, which it
    // does not keep) before taking it under the room's batch id
    expect(await toldOf(g.id, b.id, 1)).toEqual({ [b.id]: { seq: 1, count: 1, mentioned: false } });
    expect(await batchesOf(g.id)).toEqual([
      { batch_id: expect.stringMatching(new RegExp(`^${g.id}:\\d+:\\d+$`)), received_at: expect.any(Date) },
    ]);
    // a group's banner: the room's name over "Sender: preview"
    expect(await banner(g.id, b.id)).toEqual({
      sender_id: a.id,
      title: "push team",
      body: `${a.display_name}: hello b`,
    });
    // the room's last seq came along (b's read offset too: 0, which is also where the relay starts)
    expect(await unreadOf(g.id)).toEqual({ [b.id]: { last_seq: 1, read_seq: 0 } });
    // a direct room has no name; previews are cut to 200 characters
    const d = await direct(edge, a, b);
    const sd = await openStream(edge, a, d.id);
    await send(sd, d.id, "é".repeat(300));
    await toldOf(d.id, b.id, 1);
    // a direct banner is the sender's name over the bare preview (a group's would say "Sender: "),
    // and the relay would have cut a longer preview at 260 with "…": the room cut this one
    expect(await banner(d.id, b.id)).toEqual({ sender_id: a.id, title: a.display_name, body: "é".repeat(200) });
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
    expect(await toldOf(g.id, offline.id, 1)).toEqual({ [offline.id]: { seq: 1, count: 1, mentioned: false } });
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
    expect(await toldOf(g.id, other.id, 1)).toEqual({ [other.id]: { seq: 1, count: 1, mentioned: false } });
    // One batch with a message that mentions m and one that does not (sent together, inside the
    // second the room waits after its last request): the room names m for the mention and as
    // quiet, which only the relay applies per message. m hears of the mention alone, other of both.
    const before = (await batchesOf(g.id)).length;
    await Promise.all([send(sa, g.id, "still not about you"), send(sa, g.id, "@m look", { mentions: [m.id] })]);
    expect(await toldOf(g.id, m.id, 3)).toEqual({
      [m.id]: { seq: 3, count: 1, mentioned: true },
      [other.id]: { seq: 3, count: 3, mentioned: false },
    });
    expect(await batchesOf(g.id)).toHaveLength(before + 1);
    // the owner may mention everyone: that reaches the muted member too
    await send(sa, g.id, "@all", { mention_all: true });
    expect(await toldOf(g.id, m.id, 4)).toMatchObject({ [m.id]: { seq: 4, count: 2, mentioned: true } });
    await sa.close();
  });

  it("pushes a member who hid the room only what mentions them", async () => {
    const [a, h] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, a, [h]);
    await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: h.token, body: { hidden: true } });
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "quiet");
    // nobody is to hear of it, so nothing leaves the room: a batch would be in long before (the
    // room waits 200 ms for a first message's company)
    await sleep(1200);
    expect(await batchesOf(g.id)).toEqual([]);
    await send(sa, g.id, "@h", { mentions: [h.id] });
    expect(await toldOf(g.id, h.id, 2)).toEqual({ [h.id]: { seq: 2, count: 1, mentioned: true } });
    expect(await batchesOf(g.id)).toHaveLength(1);
    await sa.close();
  });

  it("pushes a member whose session answered activity with no socket (unsubscribed, then named)", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    // a subscription left behind by a session that died: at the commit b looks online
    await (await room(d.id)).subscribe(b.id);
    const sa = await openStream(edge, a, d.id);
    await send(sa, d.id, "anyone there?");
    expect(await toldOf(d.id, b.id, 1)).toEqual({ [b.id]: { seq: 1, count: 1, mentioned: false } });
    expect((await inspect(d.id)).subscribed).not.toContain(b.id);
    await sa.close();
  });

  it("sends fifty messages sent fast in a few requests, at most one a second, each seq once", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    const started = Date.now();
    const burst = async (from: number) => {
      for (let i = from; i < from + 25; i++)
        sa.send({ type: "send", room_id: d.id, client_message_id: `fast-${i}`, body: `${i}` });
      await sa.takeN("ack", 25);
    };
    await burst(0);
    // the second half comes just after the relay took a first batch: the room must wait out its second
    await eventually(async () => (await batchesOf(d.id)).length > 0);
    await burst(25);
    // all fifty told, each once (none collapsed away, none in two batches), the latest last
    expect(await toldOf(d.id, b.id, 50)).toEqual({ [b.id]: { seq: 50, count: 50, mentioned: false } });
    const elapsedS = (Date.now() - started) / 1000;
    const batches = await batchesOf(d.id);
    expect(batches.length).toBeGreaterThanOrEqual(2);
    expect(batches.length).toBeLessThanOrEqual(elapsedS + 1);
    const at = batches.map((x) => x.received_at.getTime());
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(900);
    expect(await unreadOf(d.id)).toEqual({ [b.id]: { last_seq: 50, read_seq: 0 } });
    await sa.close();
  });

  it("acks every send while the relay is down, and every seq reaches it once it is back", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    await relay.stop(); // connections refused from now on
    try {
      for (let i = 0; i < 100; i++)
        sa.send({ type: "send", room_id: d.id, client_message_id: `down-${i}`, body: `while down ${i}` });
      const acks = await sa.takeN("ack", 100, 20_000);
      expect(acks.map((f) => f.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      await sleep(1500); // a few tries fail meanwhile
      expect((await inspect(d.id)).outbox.push).toBeGreaterThan(0);
    } finally {
      // a new relay on the same address, as after a restart
      relay = await startOurRelay(SECRET, relayPort);
    }
    expect(await toldOf(d.id, b.id, 100, 20_000)).toEqual({ [b.id]: { seq: 100, count: 100, mentioned: false } });
    await eventually(async () => ((await inspect(d.id)).outbox.push ?? 0) === 0);
    await sa.close();
  });

  it("loses none of a backlog over 100 messages: a muted member hears of an early mention, counts cover all", async () => {
    const [a, m, other] = (await people(3)) as [Seeded, Seeded, Seeded];
    const g = await group(edge, a, [m, other], "backlog");
    const muted = await call(edge, "PATCH", `/v1/rooms/${g.id}/me`, { token: m.token, body: { muted: true } });
    expect(muted.status).toBe(200);
    const sa = await openStream(edge, a, g.id);
    const total = 151;
    await relay.stop();
    try {
      // the mention comes first: a batch of the newest 100 would leave it behind
      sa.send({ type: "send", room_id: g.id, client_message_id: "backlog-0", body: "@m early", mentions: [m.id] });
      for (let i = 1; i < total; i++)
        sa.send({ type: "send", room_id: g.id, client_message_id: `backlog-${i}`, body: `while down ${i}` });
      const acks = await sa.takeN("ack", total, 20_000);
      expect(acks.find((f) => f.client_message_id === "backlog-0")!.seq).toBe(1);
      await sleep(1500); // a few tries fail meanwhile
      expect((await inspect(g.id)).outbox.push).toBe(total);
    } finally {
      relay = await startOurRelay(SECRET, relayPort);
    }
    expect(await toldOf(g.id, other.id, total, 20_000)).toEqual({
      [m.id]: { seq: 1, count: 1, mentioned: true },
      [other.id]: { seq: total, count: total, mentioned: false },
    });
    // oldest first, at most 100 messages a batch: more than one batch (a message in two would count twice)
    expect((await batchesOf(g.id)).length).toBeGreaterThanOrEqual(2);
    expect(await unreadOf(g.id)).toMatchObject({ [other.id]: { last_seq: total } });
    await eventually(async () => ((await inspect(g.id)).outbox.push ?? 0) === 0);
    await sa.close();
  });

  it("counts a relay that refuses the secret, and hands the batch on once it takes it again", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    // the relay is redeployed with another secret
    await relay.stop();
    relay = await startOurRelay("the relay moved on to another secret", relayPort);
    try {
      await send(sa, d.id, "knock knock");
      await eventually(async () => (await metricValue(relay, "push_batches_total", { outcome: "unauthorized" })) >= 1);
      const seen = await eventually(async () => {
        const i = await inspect(d.id);
        return (i.relay?.unauthorized ?? 0) >= 1 ? i : null;
      }, 10_000);
      expect(seen.relay).toMatchObject({ refusing: true });
      expect(seen.outbox.push).toBe(1);
      expect(await batchesOf(d.id)).toEqual([]);
    } finally {
      await relay.stop();
      relay = await startOurRelay(SECRET, relayPort);
    }
    expect(await toldOf(d.id, b.id, 1)).toEqual({ [b.id]: { seq: 1, count: 1, mentioned: false } });
    // the room hears the 200 just after the relay committed
    await eventually(async () => (await inspect(d.id)).relay?.refusing === false);
    await sa.close();
  });

  it("tells the relay when a member it pushed to reads the room", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const d = await direct(edge, a, b);
    const sa = await openStream(edge, a, d.id);
    await send(sa, d.id, "one");
    await send(sa, d.id, "two");
    await toldOf(d.id, b.id, 2);
    const before = (await batchesOf(d.id)).length;
    const sb = await openStream(edge, b, d.id);
    sb.send({ type: "read", room_id: d.id, seq: 2 });
    const unread = await eventually(async () => {
      const u = await unreadOf(d.id);
      return u[b.id]?.read_seq === 2 ? u : null;
    });
    expect(unread).toEqual({ [b.id]: { last_seq: 2, read_seq: 2 } });
    // what b read is never sent: a pending notification becomes read (one push-delivery.test.ts's
    // dispatcher took first is failed already, and read too)
    const { rows } = await db().query<{ status: number; read: boolean }>(
      `select status, read_at is not null as read from push_notifications where room_id = $1 and user_id = $2`,
      [d.id, b.id],
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.status === PushStatus.pending || !r.read)).toEqual([]);
    // b is online now, and a streams: one more batch, of the read only, that told nobody of anything
    expect(await batchesOf(d.id)).toHaveLength(before + 1);
    expect(await told(d.id)).toEqual({ [b.id]: { seq: 2, count: 2, mentioned: false } });
    await Promise.all([sa.close(), sb.close()]);
  });

  it("strips the preview of a deleted message from the notification the relay holds, and never pushes one deleted in time", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, a, [b], "deletes");
    const sa = await openStream(edge, a, g.id);
    await send(sa, g.id, "sent by mistake");
    await toldOf(g.id, b.id, 1);
    expect(await banner(g.id, b.id)).toMatchObject({ body: `${a.display_name}: sent by mistake` });
    sa.send({ type: "delete", room_id: g.id, seq: 1, op_id: "push-del-1" });
    await sa.take((f) => f.type === "op_ack" && f.op_id === "push-del-1");
    // the relay keeps the notification (its count, its title) without the text
    await eventually(async () => (await banner(g.id, b.id))?.body === null, 10_000);
    expect(await banner(g.id, b.id)).toMatchObject({ sender_id: a.id, title: "deletes" });
    // sent and deleted within the collect window: never pushed (the batch tells only of the delete)
    const ack = await send(sa, g.id, "gone before it left");
    sa.send({ type: "delete", room_id: g.id, seq: ack.seq, op_id: "push-del-2" });
    await sa.take((f) => f.type === "op_ack" && f.op_id === "push-del-2");
    await send(sa, g.id, "this one stays");
    const t = await toldOf(g.id, b.id, 3);
    expect(t[b.id]).toMatchObject({ seq: 3, count: 2 });
    expect(await banner(g.id, b.id)).toMatchObject({ body: `${a.display_name}: this one stays` });
    await eventually(async () => {
      const { outbox } = await inspect(g.id);
      return !outbox.push && !outbox.push_delete;
    }, 10_000);
    await sa.close();
  });

  it("names only who to leave out in a room above 100 members", async () => {
    const users = (await people(103)) as Seeded[];
    const [owner, online, ...rest] = users as [Seeded, Seeded, ...Seeded[]];
    expect(rest.length).toBeGreaterThan(PUSH_AUDIENCE_LIST_MAX);
    const g = await group(edge, owner, [online], "a big room");
    const session = await openSession(edge, online);
    await subscribed(g.id, online.id);
    const so = await openStream(edge, owner, g.id);
    // nobody is offline yet: this one is pushed to no one, and the many join after it
    const first = await send(so, g.id, "before the many");
    const add = await call(edge, "POST", `/v1/rooms/${g.id}/members`, {
      token: owner.token,
      body: { user_ids: rest.map((u) => u.id) },
    });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    await eventually(async () => (await inspect(g.id)).members === users.length, 10_000);
    const { seq } = await send(so, g.id, "to the many");
    // 101 offline members were told: more than a batch may name (PUSH_AUDIENCE_LIST_MAX; the relay
    // refuses such a batch whole, 400), so the room named who to leave out, and those were exactly
    // the owner and the online member
    const t = await toldOf(g.id, rest[0]!.id, seq, 20_000);
    expect(t).toEqual(each(rest, { seq, count: 1, mentioned: false }));
    expect(await batchesOf(g.id)).toHaveLength(1);
    // the offline members' reads came along, so the relay counts their unread from where they are:
    // they joined after the first message, so one message is unread, not two
    expect(await unreadOf(g.id)).toEqual(each(rest, { last_seq: seq, read_seq: first.seq }));
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
