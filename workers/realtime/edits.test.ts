// Edits and deletes end to end: real workerd, real PostgreSQL, real WebSockets, and a real sink
// over its SQLite archive behind the rooms' outboxes. Who may change what, the update and op_ack
// frames, op_id dedupe, what a deleted message leaves behind (streams, replay, history, room
// lists, the archive), and a client resuming from after_seq and after_rev.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type RunningSink } from "../../cassandra-sink/index.js";
import { call, closeDb, db } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { freePort } from "../../test/support/ports.js";
import { direct, group, people, type Seeded } from "../../test/support/rooms.js";
import { eventually, openSession, openStream, sleep, type Frame, type TestSocket } from "../../test/support/sockets.js";

const SECRET = "edits-test-secret-0123456789abcdef";
const HOT_TAIL = 8;
let dir: string;
let sink: RunningSink;
let edge: Edge;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-chat-edits-"));
  sink = await startSink({
    secret: SECRET,
    port: await freePort(),
    host: "127.0.0.1",
    store: { kind: "sqlite", path: path.join(dir, "archive.sqlite"), purgeIntervalMs: 60_000 },
    log: () => {},
  });
  edge = await startEdge(
    testEdgeOptions({
      SINK_URL: sink.url,
      SINK_SECRET: SECRET,
      ARCHIVE_FLUSH_MS: "200",
      ARCHIVE_RETRY_MAX_SECONDS: "1",
      HOT_TAIL_MAX_MESSAGES: String(HOT_TAIL),
      SEND_BURST: "1000",
      SEND_RATE_PER_SECOND: "1000",
      FRAME_BURST: "1000",
      FRAME_RATE_PER_SECOND: "1000",
    }),
  );
}, 60_000);
afterAll(async () => {
  await edge?.close();
  await sink?.stop();
  await closeDb();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function send(s: TestSocket, roomId: string, body: string, extra: Record<string, unknown> = {}) {
  const client_message_id = `e-${++n}`;
  s.send({ type: "send", room_id: roomId, client_message_id, body, ...extra });
  return s.take((f) => f.type === "ack" && f.client_message_id === client_message_id);
}
const edit = (s: TestSocket, roomId: string, seq: number, body: string, op_id = `op-${++n}`) => {
  s.send({ type: "edit", room_id: roomId, seq, op_id, body });
  return op_id;
};
const remove = (s: TestSocket, roomId: string, seq: number, op_id = `op-${++n}`) => {
  s.send({ type: "delete", room_id: roomId, seq, op_id });
  return op_id;
};
const answerTo = (s: TestSocket, op_id: string) =>
  s.take((f) => (f.type === "op_ack" && f.op_id === op_id) || (f.type === "error" && f.ref === op_id));
const updateOf = (s: TestSocket, seq: number) => s.take((f) => f.type === "update" && f.message.seq === seq);
const history = (user: Seeded, roomId: string, q = "") =>
  call(edge, "GET", `/v1/rooms/${roomId}/messages${q}`, { token: user.token });
const roomEntry = async (user: Seeded, roomId: string) =>
  (await call(edge, "GET", "/v1/rooms", { token: user.token })).body.rooms.find(
    (r: { room: { id: string } }) => r.room.id === roomId,
  );
async function inspect(roomId: string) {
  const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
  return (
    ns.get(ns.idFromName(roomId)) as unknown as {
      inspect(): Promise<{ subscribed: string[]; oldest_seq: number; outbox: Record<string, number> }>;
    }
  ).inspect();
}
const ATTACHMENT = { id: "f1", url: "https://files.example/f1", mime: "image/png", size: 10, name: "cat.png" };

describe("editing a message", () => {
  it("reaches every stream as one update; the op_ack comes once, and a retried op_id answers duplicate with no second update", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const aPhone = await openStream(edge, a, room.id, { device: "phone" });
    const aLaptop = await openStream(edge, a, room.id, { device: "laptop" });
    const bPhone = await openStream(edge, b, room.id);
    const ack = await send(aPhone, room.id, "helo", { mentions: [b.id], attachments: [ATTACHMENT] });
    const op = edit(aPhone, room.id, ack.seq, "hello");
    const opAck = await answerTo(aPhone, op);
    expect(opAck).toEqual({ type: "op_ack", room_id: room.id, op_id: op, seq: 1, rev: 1 });
    for (const s of [aPhone, aLaptop, bPhone]) {
      const u = await updateOf(s, 1);
      expect(u).toMatchObject({ room_id: room.id, rev: 1 });
      expect(u.message).toMatchObject({
        seq: 1,
        message_id: ack.message_id,
        sender_id: a.id,
        body: "hello",
        mentions: [b.id],
        attachments: [ATTACHMENT],
        created_at: ack.created_at,
        status: "edited",
        rev: 1,
      });
      expect(Date.parse(u.message.updated_at)).toBeGreaterThan(Date.parse(ack.created_at));
    }
    // the retry (a lost op_ack): the first answer again, and nothing changes
    edit(aPhone, room.id, 1, "something else", op);
    expect(await answerTo(aPhone, op)).toEqual({ ...opAck, duplicate: true });
    // a message sent after the retry arrives after anything the retry could have caused
    await send(aPhone, room.id, "next");
    await bPhone.take((f) => f.type === "message" && f.seq === 2);
    expect(bPhone.seen("update")).toHaveLength(0);
    expect(aPhone.seen("op_ack")).toHaveLength(0);
    expect((await history(b, room.id, "?before_seq=2")).body.messages).toEqual([
      expect.objectContaining({ seq: 1, body: "hello", status: "edited", rev: 1 }),
    ]);
    await Promise.all([aPhone, aLaptop, bPhone].map((s) => s.close()));
  });

  it("is for the sender only, and refused on a message that does not exist or was deleted", async () => {
    const [owner, m1, m2] = (await people(3)) as [Seeded, Seeded, Seeded];
    const g = await group(edge, owner, [m1, m2]);
    const so = await openStream(edge, owner, g.id);
    const s1 = await openStream(edge, m1, g.id);
    const s2 = await openStream(edge, m2, g.id);
    await send(s1, g.id, "mine");
    expect(await answerTo(s2, edit(s2, g.id, 1, "yours now"))).toMatchObject({
      type: "error",
      code: "forbidden",
      message: "you can edit only your own messages",
    });
    // not even the owner puts words in a member's mouth
    expect(await answerTo(so, edit(so, g.id, 1, "owned"))).toMatchObject({ code: "forbidden" });
    expect(await answerTo(s1, edit(s1, g.id, 9, "ghost"))).toMatchObject({ code: "not_found" });
    expect(await answerTo(s1, remove(s1, g.id, 1))).toMatchObject({ type: "op_ack", seq: 1 });
    expect(await answerTo(s1, edit(s1, g.id, 1, "undelete"))).toMatchObject({
      code: "conflict",
      message: "message 1 was deleted",
    });
    // a malformed edit (no body) is refused naming its op_id
    s1.send({ type: "edit", room_id: g.id, seq: 1, op_id: "op-empty", body: "  " });
    expect(await s1.take((f) => f.type === "error" && f.ref === "op-empty")).toMatchObject({ code: "invalid" });
    expect((await history(m2, g.id)).body.messages[0]).toMatchObject({ seq: 1, body: "", status: "deleted" });
    await Promise.all([so, s1, s2].map((s) => s.close()));
  });

  it("is refused to a member who may not send: one side of a blocked direct room", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    await send(sa, room.id, "before the block");
    expect((await call(edge, "PATCH", `/v1/friends/${b.id}`, { token: a.token, body: { blocked: true } })).status).toBe(
      200,
    );
    await eventually(async () => (await history(b, room.id)).status === 403);
    for (const op of [edit(sa, room.id, 1, "after"), remove(sa, room.id, 1)])
      expect(await answerTo(sa, op)).toMatchObject({ type: "error", code: "forbidden" });
    await call(edge, "PATCH", `/v1/friends/${b.id}`, { token: a.token, body: { blocked: false } });
    expect((await history(a, room.id)).body.messages[0]).toMatchObject({ body: "before the block" });
    expect((await history(a, room.id)).body.messages[0]).not.toHaveProperty("status");
    await sa.close();
  });
});

describe("deleting a message", () => {
  it("is for its sender, and for the owner and admins on anyone's; a member may not delete another's", async () => {
    const [owner, admin, m1, m2] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const g = await group(edge, owner, [admin, m1, m2]);
    const promoted = await call(edge, "PATCH", `/v1/rooms/${g.id}/members/${admin.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(promoted.status).toBe(200);
    const [so, sa, s1, s2] = await Promise.all([owner, admin, m1, m2].map((u) => openStream(edge, u, g.id)));
    for (const body of ["one", "two", "three"]) await send(s1!, g.id, body, { attachments: [ATTACHMENT] });
    expect(await answerTo(s2!, remove(s2!, g.id, 1))).toMatchObject({
      type: "error",
      code: "forbidden",
      message: "your role may not delete other members' messages",
    });
    const byAdmin = await answerTo(sa!, remove(sa!, g.id, 1));
    expect(byAdmin).toMatchObject({ type: "op_ack", seq: 1, rev: 1 });
    const byOwner = await answerTo(so!, remove(so!, g.id, 2));
    expect(byOwner).toMatchObject({ type: "op_ack", seq: 2, rev: 2 });
    expect(await answerTo(s1!, remove(s1!, g.id, 3))).toMatchObject({ type: "op_ack", seq: 3, rev: 3 });
    for (const s of [so!, sa!, s1!, s2!]) {
      const updates = [await updateOf(s, 1), await updateOf(s, 2), await updateOf(s, 3)];
      expect(updates.map((u) => u.rev)).toEqual([1, 2, 3]);
      for (const u of updates) {
        expect(u.message).toMatchObject({ body: "", mentions: [], mention_all: false, status: "deleted" });
        expect(u.message).not.toHaveProperty("attachments");
      }
    }
    // deleting a deleted message is refused; seqs and the room's last seq stay as they were
    expect(await answerTo(so!, remove(so!, g.id, 3))).toMatchObject({ code: "conflict" });
    const next = await send(s2!, g.id, "still counting");
    expect(next.seq).toBe(4);
    await Promise.all([so, sa, s1, s2].map((s) => s!.close()));
  });

  it("follows the room's role rows: taking can_delete_any from admins takes effect with the next membership push", async () => {
    const [owner, admin, m1, newcomer] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const g = await group(edge, owner, [admin, m1]);
    await call(edge, "PATCH", `/v1/rooms/${g.id}/members/${admin.id}`, { token: owner.token, body: { role: "admin" } });
    const s1 = await openStream(edge, m1, g.id);
    for (const body of ["one", "two"]) await send(s1, g.id, body);
    await db().query(`update chat_room_roles set can_delete_any = false where room_id = $1 and role = 2`, [g.id]);
    // adding a member pushes a fresh snapshot to the room
    const added = await call(edge, "POST", `/v1/rooms/${g.id}/members`, {
      token: owner.token,
      body: { user_ids: [newcomer.id] },
    });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    const [sa, so] = await Promise.all([openStream(edge, admin, g.id), openStream(edge, owner, g.id)]);
    expect(await answerTo(sa!, remove(sa!, g.id, 1))).toMatchObject({ type: "error", code: "forbidden" });
    expect(await answerTo(so!, remove(so!, g.id, 1))).toMatchObject({ type: "op_ack", seq: 1 });
    await Promise.all([s1, sa!, so!].map((s) => s.close()));
  });

  it("takes its body out of history, replay and the room list's last message, and leaves unread counts as they were", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const bSession = await openSession(edge, b, "phone");
    await eventually(async () => (await inspect(room.id)).subscribed.includes(b.id));
    await send(sa, room.id, "keep this");
    await send(sa, room.id, "secret", { mentions: [b.id], attachments: [ATTACHMENT] });
    expect((await bSession.take((f) => f.type === "activity" && f.message?.seq === 2)).message.body).toBe("secret");
    expect(await roomEntry(b, room.id)).toMatchObject({ unread_count: 2, last_message: { seq: 2, body: "secret" } });

    // an edit of the latest message refreshes the room list too, and leaves the unread count
    expect(await answerTo(sa, edit(sa, room.id, 2, "secret!"))).toMatchObject({ type: "op_ack" });
    const edited = await bSession.take((f) => f.type === "activity" && f.message?.status === "edited");
    expect(edited).toMatchObject({ last_seq: 2, unread_count: 2, message: { seq: 2, body: "secret!" } });

    expect(await answerTo(sa, remove(sa, room.id, 2))).toMatchObject({ type: "op_ack", rev: 2 });
    const gone = await bSession.take((f) => f.type === "activity" && f.message?.status === "deleted");
    expect(gone).toMatchObject({ last_seq: 2, unread_count: 2, message: { seq: 2, body: "", mentions: [] } });
    expect(gone.message).not.toHaveProperty("attachments");
    // online, the room list is the session's cache; offline, it asks the room: neither shows the body
    const online = await roomEntry(b, room.id);
    expect(online).toMatchObject({ unread_count: 2, last_message: { seq: 2, body: "", status: "deleted" } });
    await bSession.close();
    await eventually(async () => !(await inspect(room.id)).subscribed.includes(b.id));
    const offline = await roomEntry(b, room.id);
    expect(offline).toMatchObject({ unread_count: 2, last_message: { seq: 2, body: "", status: "deleted" } });
    expect(JSON.stringify(offline)).not.toContain("secret");

    const page = await history(b, room.id);
    expect(page.body.messages.map((m: Frame) => [m.seq, m.body, m.status])).toEqual([
      [2, "", "deleted"],
      [1, "keep this", undefined],
    ]);
    expect(page.body.messages[0]).not.toHaveProperty("attachments");
    const replay = await openStream(edge, b, room.id, { device: "tablet", waitSynced: false });
    const replayed = await replay.takeN("message", 2);
    expect(replayed[1]).toMatchObject({ seq: 2, body: "", mentions: [], status: "deleted", rev: 2 });
    expect(replayed[1]).not.toHaveProperty("attachments");
    expect(await replay.takeType("synced")).toMatchObject({ last_seq: 2, last_rev: 2 });
    expect(JSON.stringify(replay.frames)).not.toContain("secret");
    await Promise.all([sa.close(), replay.close()]);
  });
});

describe("resuming a stream from after_seq and after_rev", () => {
  it("replays the edits and deletes of older messages as updates, newest state only, and nothing twice", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    for (const body of ["one", "two", "three"]) await send(sa, room.id, body);
    const first = await openStream(edge, b, room.id, { waitSynced: false });
    expect(await first.takeType("synced")).toMatchObject({ last_seq: 3, last_rev: 0, has_more: false });
    await first.close();
    // while b is away: seq 1 edited twice, seq 2 deleted, a new message
    for (const op of [edit(sa, room.id, 1, "one, edited"), edit(sa, room.id, 1, "one, edited again")])
      await answerTo(sa, op);
    await answerTo(sa, remove(sa, room.id, 2));
    await send(sa, room.id, "four");

    const resumed = await openStream(edge, b, room.id, { afterSeq: 3, afterRev: 0, waitSynced: false });
    const synced = await resumed.takeType("synced");
    expect(synced).toEqual({ type: "synced", room_id: room.id, last_seq: 4, has_more: false, last_rev: 3 });
    expect(resumed.frames.map((f) => `${f.type}:${f.type === "update" ? f.message.seq : f.seq}`)).toEqual([
      "message:4",
      "update:1",
      "update:2",
    ]);
    const [, u1, u2] = resumed.frames;
    expect(u1).toMatchObject({ rev: 2, message: { seq: 1, body: "one, edited again", status: "edited", rev: 2 } });
    expect(u2).toMatchObject({ rev: 3, message: { seq: 2, body: "", status: "deleted", rev: 3 } });
    await resumed.close();

    // caught up: no updates; without after_rev: none either, but the cursor to resume from
    const caughtUp = await openStream(edge, b, room.id, { afterSeq: 4, afterRev: 3, waitSynced: false });
    expect(await caughtUp.takeType("synced")).toMatchObject({ last_rev: 3 });
    const plain = await openStream(edge, b, room.id, { afterSeq: 4, waitSynced: false });
    expect(await plain.takeType("synced")).toMatchObject({ last_seq: 4, last_rev: 3 });
    // an edit while the stream is open arrives live
    await answerTo(sa, edit(sa, room.id, 3, "three, live"));
    expect(await updateOf(plain, 3)).toMatchObject({ rev: 4, message: { body: "three, live" } });
    await sleep(100);
    expect(caughtUp.frames.filter((f) => f.type === "update").map((f) => f.rev)).toEqual([4]);
    await Promise.all([sa, caughtUp, plain].map((s) => s.close()));
  });
});

describe("the archive", () => {
  it("gets the new version through the outbox, and history beyond the hot tail shows it", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    await send(sa, room.id, "first draft", { attachments: [ATTACHMENT] });
    await send(sa, room.id, "regrettable", { attachments: [ATTACHMENT] });
    await send(sa, room.id, "as sent");
    await answerTo(sa, edit(sa, room.id, 1, "final draft"));
    await answerTo(sa, remove(sa, room.id, 2));
    for (let i = 0; i < HOT_TAIL + 4; i++) await send(sa, room.id, `filler ${i}`);
    // once archived, the three have left the hot tail: only the archive holds them
    await eventually(async () => (await inspect(room.id)).oldest_seq > 3, 15_000, 100);
    const page = await history(b, room.id, "?after_seq=0&limit=3");
    expect(page.status).toBe(200);
    const [m1, m2, m3] = page.body.messages as Frame[];
    expect(m1).toMatchObject({ seq: 1, body: "final draft", status: "edited", attachments: [ATTACHMENT] });
    expect(Date.parse(m1!.updated_at)).toBeGreaterThan(Date.parse(m1!.created_at));
    expect(m2).toMatchObject({ seq: 2, body: "", mentions: [], status: "deleted" });
    expect(m2).not.toHaveProperty("attachments");
    expect(m3).toMatchObject({ seq: 3, body: "as sent" });
    expect(m3).not.toHaveProperty("status");
    // the sink itself holds nothing of the deleted message's content
    const archived = await (
      await fetch(`${sink.url}/v1/rooms/${room.id}/messages?after_seq=0&limit=3`, {
        headers: { authorization: `Bearer ${SECRET}` },
      })
    ).text();
    expect(archived).not.toContain("regrettable");
    expect(archived).toContain("final draft");
    // a message only the archive holds can no longer be changed: said plainly
    expect(await answerTo(sa, edit(sa, room.id, 3, "too late"))).toMatchObject({
      type: "error",
      code: "not_found",
      message: expect.stringMatching(/no longer in this room's recent history/),
    });
    await sa.close();
  }, 30_000);
});
