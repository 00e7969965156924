// The relay's intake over HTTP against a real PostgreSQL, with dispatching off so the rows it
// writes stay as the intake left them: auth, refusals that change nothing, a resent batch done once,
// both audience modes, one pending row per (recipient, room), unread counts and reads.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemberStatus, PushStatus } from "../db/index.js";
import { PUSH_BATCH_MAX_BYTES } from "../protocol/push.js";
import { collapseKeyFor } from "./content.js";
import { startRelay, type RunningRelay } from "./index.js";
import {
  batch,
  message,
  metricValue,
  ownDatabase,
  post,
  postEarlyAnswer,
  RELAY_SECRET,
  seedRoom,
  seedUsers,
} from "../test/support/push-relay.js";

let database: Awaited<ReturnType<typeof ownDatabase>>;
let relay: RunningRelay;
/** statements the relay's pool ran, counted per client */
let statements = 0;
let relayPool: pg.Pool;
const sql = (text: string, values: unknown[] = []) => database.pool.query(text, values);

beforeAll(async () => {
  database = await ownDatabase("push_intake");
  relayPool = new pg.Pool({ connectionString: database.url, max: 3 });
  relayPool.on("error", () => {});
  relayPool.on("connect", (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      statements += 1;
      return query(...a);
    };
  });
  relay = await startRelay({
    secret: RELAY_SECRET,
    pool: relayPool,
    dispatch: { enabled: false },
    log: () => {},
  });
});

afterAll(async () => {
  await relay?.stop();
  await relayPool?.end();
  await database?.drop();
});

async function notificationsOf(room: string) {
  const r = await sql(
    `select user_id, seq::int, count, status, mentioned, title, body, sender_id, collapse_key, read_at
     from push_notifications where room_id = $1 order by user_id`,
    [room],
  );
  return r.rows as Array<{
    user_id: string;
    seq: number;
    count: number;
    status: number;
    mentioned: boolean;
    title: string;
    body: string;
    sender_id: string;
    collapse_key: string;
    read_at: Date | null;
  }>;
}

async function stored(batchId: string, room: string) {
  const b = await sql(`select 1 from push_batches where batch_id = $1`, [batchId]);
  const n = await sql(`select 1 from push_notifications where room_id = $1`, [room]);
  const u = await sql(`select 1 from push_unread where room_id = $1`, [room]);
  return { batches: b.rowCount, notifications: n.rowCount, unread: u.rowCount };
}

describe("push relay intake", () => {
  it("answers /healthz, /readyz and /metrics without the secret", async () => {
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${relay.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    for (const name of ["push_batches_total", "push_pending", "push_provider_latency_seconds", "push_sent_total"])
      expect(metrics).toContain(name);
  });

  it("says not ready without echoing the driver's error when PostgreSQL is unreachable", async () => {
    const dead = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/nothing", max: 1 });
    const lines: string[] = [];
    const down = await startRelay({
      secret: RELAY_SECRET,
      pool: dead,
      dispatch: { enabled: false },
      log: (l) => lines.push(l),
    });
    try {
      const res = await fetch(`${down.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("unavailable");
      expect(body.error.message).toBe("the push store (PostgreSQL) is not reachable");
      expect(lines.some((l) => l.startsWith("readyz: PostgreSQL not reachable"))).toBe(true);
    } finally {
      await down.stop();
      await dead.end();
    }
  });

  it("refuses a request without the secret or with a wrong one (401) and writes nothing", async () => {
    const [a, b] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: a! }, { user: b! }] });
    const body = batch({ room, messages: [message(1, a!)] });
    for (const secret of [null, "wrong-secret-wrong-secret", `${RELAY_SECRET}x`]) {
      const res = await post(relay, body, { secret });
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe("unauthorized");
    }
    expect(await stored(body.batch_id, room)).toEqual({ batches: 0, notifications: 0, unread: 0 });
    expect(await metricValue(relay, "push_batches_total", { outcome: "unauthorized" })).toBeGreaterThanOrEqual(3);
  });

  it("refuses a malformed batch (400, naming the field) and an oversized one (413), changing nothing", async () => {
    const [a, b] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: a! }, { user: b! }] });
    const good = batch({ room, messages: [message(1, a!)] });

    const badSeq = await post(relay, { ...good, messages: [{ ...good.messages[0]!, seq: -1 }] });
    expect(badSeq.status).toBe(400);
    expect(badSeq.body.error?.message).toMatch(/^batch refused, nothing taken: messages\.0\.seq: /);
    const extra = await post(relay, { ...good, surprise: true });
    expect(extra.status).toBe(400);
    const noAudience = await post(relay, { ...good, audience: null });
    expect(noAudience.status).toBe(400);
    expect(noAudience.body.error?.message).toContain("messages need an audience");
    const notJson = await post(relay, null, { raw: "{not json" });
    expect(notJson.status).toBe(400);

    const huge = await postEarlyAnswer(relay, JSON.stringify({ ...good, padding: "x".repeat(PUSH_BATCH_MAX_BYTES) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error?.code).toBe("too_large");

    expect(await stored(good.batch_id, room)).toEqual({ batches: 0, notifications: 0, unread: 0 });
    // the same batch, well-formed, is still taken: the refusals left no trace of its id
    expect((await post(relay, good)).body).toEqual({ batch_id: good.batch_id, notifications: 1 });
  });

  it("takes a resent batch_id once: 200 {duplicate:true}, nothing counted twice", async () => {
    const [a, b] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: a! }, { user: b! }] });
    const body = batch({ room, messages: [message(1, a!), message(2, a!)] });
    expect(await post(relay, body)).toEqual({ status: 200, body: { batch_id: body.batch_id, notifications: 1 } });
    const again = await post(relay, body);
    expect(again).toEqual({ status: 200, body: { batch_id: body.batch_id, notifications: 0, duplicate: true } });
    const rows = await notificationsOf(room);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: b, count: 2, seq: 2 });
  });

  it('"only": the named members but the sender; quiet ones only when mentioned', async () => {
    const [ann, bob, cat, dan, eve] = await seedUsers(database.pool, 5, (i) => ["Ann", "Bob", "Cat", "Dan", "Eve"][i]!);
    const room = await seedRoom(database.pool, {
      name: "Planning",
      members: [ann, bob, cat, dan, eve].map((user) => ({ user: user! })),
    });
    const res = await post(
      relay,
      batch({
        room,
        name: "Planning",
        messages: [
          message(1, ann!, { preview: "hello" }),
          message(2, bob!, { preview: "@cat look", mentions: [cat!] }),
        ],
        // eve is online (not named); dan and cat muted the room
        audience: { mode: "only", user_ids: [ann!, bob!, cat!, dan!], quiet: [cat!, dan!] },
      }),
    );
    expect(res.body.notifications).toBe(3);
    const rows = new Map((await notificationsOf(room)).map((r) => [r.user_id, r]));
    expect([...rows.keys()].sort()).toEqual([ann, bob, cat].sort());
    expect(rows.get(ann!)).toMatchObject({
      seq: 2,
      count: 1,
      sender_id: bob,
      title: "Planning",
      body: "Bob: @cat look",
    });
    expect(rows.get(bob!)).toMatchObject({ seq: 1, count: 1, sender_id: ann, body: "Ann: hello", mentioned: false });
    expect(rows.get(cat!)).toMatchObject({ seq: 2, count: 1, mentioned: true, status: PushStatus.pending });
    expect(rows.get(ann!)!.collapse_key).toBe(collapseKeyFor(room));
  });

  it('"except" in a 150-member room: every active member but the excluded and the sender; muted and hidden only when mentioned', async () => {
    const users = await seedUsers(database.pool, 150);
    const sender = users[0]!;
    const online = users.slice(1, 11);
    const muted = users.slice(11, 16);
    const hidden = users.slice(16, 21);
    const gone = users.slice(21, 24);
    const room = await seedRoom(database.pool, {
      members: users.map((user) => ({
        user,
        muted: muted.includes(user),
        hidden: hidden.includes(user),
        status: gone.includes(user) ? MemberStatus.left : MemberStatus.active,
      })),
    });
    const mentionedMuted = muted[0]!;
    const mentionedHidden = hidden[0]!;
    const res = await post(
      relay,
      batch({
        room,
        messages: [message(7, sender), message(8, sender, { mentions: [mentionedMuted, mentionedHidden, online[0]!] })],
        audience: { mode: "except", user_ids: online },
      }),
    );
    const expected = users.filter(
      (u) =>
        u !== sender &&
        !online.includes(u) &&
        !gone.includes(u) &&
        ((!muted.includes(u) && !hidden.includes(u)) || u === mentionedMuted || u === mentionedHidden),
    );
    expect(expected).toHaveLength(150 - 1 - 10 - 3 - 8);
    expect(res.body.notifications).toBe(expected.length);
    const rows = await notificationsOf(room);
    expect(rows.map((r) => r.user_id).sort()).toEqual([...expected].sort());
    const quiet = rows.filter((r) => r.user_id === mentionedMuted || r.user_id === mentionedHidden);
    expect(quiet.map((r) => [r.count, r.seq, r.mentioned])).toEqual([
      [1, 8, true],
      [1, 8, true],
    ]);
    expect(rows.filter((r) => r.count === 2 && r.seq === 8 && r.mentioned === false)).toHaveLength(expected.length - 2);
  });

  it('"except": nobody hears of a message from before they joined (joined_seq, or joined_at until the room records it)', async () => {
    const users = await seedUsers(database.pool, 150);
    const [sender, first, atSix, atSeven, quietAtSeven, atEight, unrecorded, legacy] = users;
    const room = await seedRoom(database.pool, {
      members: users.map((user) => ({ user, muted: user === quietAtSeven })),
    });
    const joined = (user: string, seq: number | null, at = "now()") =>
      sql(`update chat_members set joined_seq = $3, joined_at = ${at} where room_id = $1 and user_id = $2`, [
        room,
        user,
        seq,
      ]);
    await sql(`update chat_members set joined_seq = 0 where room_id = $1`, [room]);
    await joined(atSix!, 6);
    await joined(atSeven!, 7);
    await joined(quietAtSeven!, 7);
    await joined(atEight!, 8);
    // joined between the two messages, and long before both; the room has not recorded either yet
    await joined(unrecorded!, null, "now()");
    await joined(legacy!, null, "now() - interval '1 day'");
    const now = Date.now();
    const res = await post(
      relay,
      batch({
        room,
        messages: [
          // @all reaches muted members, but not one who joined after it
          message(7, sender!, { mention_all: true, created_at: new Date(now - 60_000).toISOString() }),
          message(8, sender!, { created_at: new Date(now + 60_000).toISOString() }),
        ],
        audience: { mode: "except", user_ids: [] },
      }),
    );
    expect(res.status).toBe(200);
    const rows = new Map((await notificationsOf(room)).map((r) => [r.user_id, [r.seq, r.count, r.mentioned]]));
    expect(rows.get(first!)).toEqual([8, 2, true]);
    expect(rows.get(atSix!)).toEqual([8, 2, true]);
    expect(rows.get(atSeven!)).toEqual([8, 1, false]);
    expect(rows.has(quietAtSeven!)).toBe(false);
    expect(rows.has(atEight!)).toBe(false);
    expect(rows.get(unrecorded!)).toEqual([8, 1, false]);
    expect(rows.get(legacy!)).toEqual([8, 2, true]);
    expect(rows.size).toBe(150 - 1 - 2);
    expect(res.body.notifications).toBe(rows.size);
    // nor is a member who joined after the batch's messages counted unread for it
    const unread = await sql(`select user_id from push_unread where room_id = $1`, [room]);
    expect(unread.rows.map((r) => r.user_id)).not.toContain(atEight);
  });

  it("takes a 1,000-member room's batch (999 recipients) in a handful of statements", async () => {
    const users: string[] = Array.from({ length: 1000 }, () => randomUUID());
    const [sender] = await seedUsers(database.pool, 1);
    users[0] = sender!;
    const room = await seedRoom(database.pool, { members: users.map((user) => ({ user })) });
    const messages = Array.from({ length: 100 }, (_, i) => message(i + 1, sender!));
    const before = statements;
    const res = await post(relay, batch({ room, messages, audience: { mode: "except", user_ids: [] } }));
    const used = statements - before;
    expect(res.body.notifications).toBe(999);
    // begin, batch id, members, read offsets, sender names, notifications, unread, commit
    expect(used).toBeLessThanOrEqual(10);
    const counts = await sql(
      `select count(*)::int as n, min(count) as lo, max(count) as hi from push_notifications where room_id = $1`,
      [room],
    );
    expect(counts.rows[0]).toEqual({ n: 999, lo: 100, hi: 100 });
    const unread = await sql(`select count(*)::int as n from push_unread where room_id = $1 and last_seq = 100`, [
      room,
    ]);
    expect(unread.rows[0].n).toBe(999);
  });

  it("keeps one pending row per (recipient, room) across 50 messages: count 50, the latest seq and preview", async () => {
    const [ann, bob] = await seedUsers(database.pool, 2, (i) => ["Ann", "Bob"][i]!);
    const direct = await seedRoom(database.pool, { type: "direct", members: [{ user: ann! }, { user: bob! }] });
    for (let b = 0; b < 5; b++) {
      const messages = Array.from({ length: 10 }, (_, i) =>
        message(b * 10 + i + 1, ann!, {
          preview: `burst ${b * 10 + i + 1}`,
          mentions: b * 10 + i === 20 ? [bob!] : [],
        }),
      );
      const res = await post(
        relay,
        batch({
          room: direct,
          type: "direct",
          name: null,
          messages,
          audience: { mode: "only", user_ids: [bob!], quiet: [] },
        }),
      );
      expect(res.body.notifications).toBe(1);
    }
    const rows = await notificationsOf(direct);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: bob,
      count: 50,
      seq: 50,
      status: PushStatus.pending,
      // a direct room's banner is the sender's name over the text
      title: "Ann",
      body: "burst 50",
      mentioned: true,
    });
  });

  it("keeps unread as the room reports it; a read marks notifications up to it read (pending ones: never sent)", async () => {
    const [ann, bob, cat] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    await post(relay, batch({ room, messages: [message(1, ann!), message(2, ann!)], last_seq: 2 }));
    const unread = async () =>
      Object.fromEntries(
        (
          await sql(`select user_id, last_seq::int, read_seq::int from push_unread where room_id = $1`, [room])
        ).rows.map((r) => [r.user_id, [r.last_seq, r.read_seq]]),
      );
    expect(await unread()).toEqual({ [bob!]: [2, 0], [cat!]: [2, 0] });

    // bob read up to 1: his notification (seq 2) is still news; cat read everything
    const reads = await post(
      relay,
      batch({
        room,
        reads: [
          { user_id: bob!, read_seq: 1 },
          { user_id: cat!, read_seq: 2 },
        ],
        last_seq: 2,
      }),
    );
    expect(reads.body).toMatchObject({ notifications: 0 });
    expect(await unread()).toEqual({ [bob!]: [2, 1], [cat!]: [2, 2] });
    const rows = new Map((await notificationsOf(room)).map((r) => [r.user_id, r]));
    expect(rows.get(bob!)).toMatchObject({ status: PushStatus.pending, read_at: null });
    expect(rows.get(cat!)).toMatchObject({ status: PushStatus.read });
    expect(rows.get(cat!)!.read_at).toBeInstanceOf(Date);

    // an older read never lowers the offset; a message at or below it is no news (a late batch)
    await post(relay, batch({ room, reads: [{ user_id: cat!, read_seq: 1 }] }));
    await post(
      relay,
      batch({ room, messages: [message(2, ann!)], audience: { mode: "only", user_ids: [cat!], quiet: [] } }),
    );
    expect((await unread())[cat!]).toEqual([2, 2]);
    expect((await notificationsOf(room)).filter((r) => r.user_id === cat)).toHaveLength(1);

    // cat's next message starts a new pending row (the read one is done)
    await post(
      relay,
      batch({ room, messages: [message(3, ann!)], audience: { mode: "only", user_ids: [cat!], quiet: [] } }),
    );
    const pending = (await notificationsOf(room)).filter((r) => r.user_id === cat && r.status === PushStatus.pending);
    expect(pending.map((r) => [r.seq, r.count])).toEqual([[3, 1]]);
  });

  it("strips the preview of a deleted message from the notifications showing it, pending or sent", async () => {
    const [ann, bob, cat] = await seedUsers(database.pool, 3, (i) => ["Ann", "Bob", "Cat"][i]!);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    await post(relay, batch({ room, messages: [message(1, ann!, { preview: "secret one" })] }));
    // cat's notification of seq 1 went out; bob's is still pending and then shows seq 2
    await sql(`update push_notifications set status = $1, sent_at = now() where room_id = $2 and user_id = $3`, [
      PushStatus.sent,
      room,
      cat,
    ]);
    await post(
      relay,
      batch({
        room,
        messages: [message(2, ann!, { preview: "secret two" })],
        audience: { mode: "only", user_ids: [bob!], quiet: [] },
      }),
    );
    const before = new Map((await notificationsOf(room)).map((r) => [r.user_id, r]));
    expect(before.get(bob!)).toMatchObject({ seq: 2, count: 2, body: "Ann: secret two" });
    expect(before.get(cat!)).toMatchObject({ seq: 1, body: "Ann: secret one" });

    const res = await post(relay, batch({ room, deleted_seqs: [2, 1] }));
    expect(res.status).toBe(200);
    const after = new Map((await notificationsOf(room)).map((r) => [r.user_id, r]));
    // the title and count stay (the banner says "2 new messages"); the text is gone
    expect(after.get(bob!)).toMatchObject({
      seq: 2,
      count: 2,
      body: null,
      title: "The Room",
      status: PushStatus.pending,
    });
    expect(after.get(cat!)).toMatchObject({ seq: 1, body: null, status: PushStatus.sent });

    // a later message gives the banner a body again; a delete of another seq leaves it be
    await post(
      relay,
      batch({
        room,
        messages: [message(3, ann!, { preview: "still here" })],
        audience: { mode: "only", user_ids: [bob!], quiet: [] },
      }),
    );
    await post(relay, batch({ room, deleted_seqs: [1] }));
    expect((await notificationsOf(room)).find((r) => r.user_id === bob)).toMatchObject({
      seq: 3,
      count: 3,
      body: "Ann: still here",
    });
  });
});
