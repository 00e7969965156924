// A room that loses its storage (issue 9, item 5), and a stream resumed after the hot tail was
// pruned (item 6), end to end: a real sink over its SQLite archive, real PostgreSQL, and edges
// over one persistence directory, whose room files are deleted between two runs.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type RunningSink } from "../../cassandra-sink/index.js";
import { call, closeDb, db } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";
import { eventually, openStream, sleep, type TestSocket } from "../../test/support/sockets.js";

const SECRET = "recovery-test-secret-0123456789";
const SINK_PORT = 18510;
/** each test its own port, so one that fails with its edge open does not take the next one's */
let edgePort = 18520;
const VARS = {
  SEND_BURST: "5000",
  SEND_RATE_PER_SECOND: "5000",
  ARCHIVE_FLUSH_MS: "200",
  ROOM_REPORT_SECONDS: "0.2",
  ARCHIVE_RETRY_MAX_SECONDS: "1",
};
let dir: string;
let sink: RunningSink | undefined;
const edges: Edge[] = [];

const startTheSink = () =>
  startSink({
    secret: SECRET,
    port: SINK_PORT,
    host: "127.0.0.1",
    store: { kind: "sqlite", path: path.join(dir, "archive.sqlite"), purgeIntervalMs: 60_000 },
    log: () => {},
  });

async function edgeOver(persist: string, vars: Record<string, string>): Promise<Edge> {
  const edge = await startEdge({ ...testEdgeOptions({ ...VARS, ...vars }, { persist }), port: edgePort++ });
  edges.push(edge);
  return edge;
}

async function stopEdge(edge: Edge) {
  await edge.close();
  edges.splice(edges.indexOf(edge), 1);
}

interface RoomRpc {
  inspect(): Promise<{ oldest_seq: number; recovering: boolean; meta: { last_seq: number } | null }>;
  summary(userId: string): Promise<{ last_seq: number; read_seq: number } | null>;
}
async function roomObject(edge: Edge, roomId: string): Promise<{ rpc: RoomRpc; hex: string }> {
  const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
  const id = ns.idFromName(roomId);
  return { rpc: ns.get(id) as unknown as RoomRpc, hex: id.toString() };
}

/** Deletes the object's SQLite file(s) (and its WAL) under the persistence directory; returns what it deleted. */
function deleteObjectStorage(persist: string, hex: string): string[] {
  const gone: string[] = [];
  for (const entry of readdirSync(persist, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.startsWith(hex)) {
      const file = path.join(entry.parentPath, entry.name);
      rmSync(file);
      gone.push(file);
    }
  }
  return gone;
}

const sinkGet = async (route: string) =>
  (await fetch(`${sink!.url}${route}`, { headers: { authorization: `Bearer ${SECRET}` } })).json() as Promise<any>;

async function archivedSeqs(roomId: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let after = 0; ;) {
    const page = await sinkGet(`/v1/rooms/${roomId}/messages?after_seq=${after}&limit=100`);
    seqs.push(...page.messages.map((m: { seq: number }) => m.seq));
    if (!page.has_more) return seqs;
    after = seqs.at(-1)!;
  }
}

async function pgRoom(roomId: string) {
  const { rows } = await db().query(`select last_seq from chat_rooms where id = $1`, [roomId]);
  return Number(rows[0].last_seq);
}
async function pgReadSeq(roomId: string, userId: string) {
  const { rows } = await db().query(`select last_read_seq from chat_members where room_id = $1 and user_id = $2`, [
    roomId,
    userId,
  ]);
  return Number(rows[0].last_read_seq);
}

async function sendAll(s: TestSocket, roomId: string, prefix: string, n: number): Promise<number[]> {
  for (let i = 1; i <= n; i++)
    s.send({ type: "send", room_id: roomId, client_message_id: `${prefix}${i}`, body: `${prefix} ${i}` });
  return (await s.takeN("ack", n, 30_000)).map((a) => a.seq as number);
}

/** Every message of the room a member can page back over HTTP, newest first. */
async function historyBack(edge: Edge, user: Seeded, roomId: string) {
  const seen: Array<{ seq: number; body: string }> = [];
  for (let before: number | undefined; ;) {
    const page = await call(
      edge,
      "GET",
      `/v1/rooms/${roomId}/messages?limit=100${before ? `&before_seq=${before}` : ""}`,
      {
        token: user.token,
      },
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    seen.push(...page.body.messages.map((m: { seq: number; body: string }) => ({ seq: m.seq, body: m.body })));
    if (!page.body.has_more) return seen;
    before = seen.at(-1)!.seq;
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-chat-recovery-"));
});
afterAll(async () => {
  for (const e of [...edges]) await e.close();
  await sink?.stop();
  await closeDb();
  rmSync(dir, { recursive: true, force: true });
});

describe("a room that lost its storage", () => {
  it("waits for the archive and PostgreSQL, then continues after their seq with its history and read offsets", async () => {
    const persist = path.join(dir, "do-sink");
    sink = await startTheSink();
    const vars = { SINK_URL: `http://127.0.0.1:${SINK_PORT}`, SINK_SECRET: SECRET, HOT_TAIL_MAX_MESSAGES: "10" };
    let edge = await edgeOver(persist, vars);
    const [a, b, c] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, a, [b, c]);
    const s = await openStream(edge, a, room.id);
    expect(await sendAll(s, room.id, "before", 30)).toEqual(range(1, 30));
    const reader = await openStream(edge, b, room.id, { device: "b" });
    reader.send({ type: "read", room_id: room.id, seq: 20 });
    await reader.take((f) => f.type === "receipt" && f.read_seq === 20);
    // everything reached the archive and PostgreSQL before the storage goes
    await eventually(async () => (await sinkGet(`/v1/rooms/${room.id}/last-seq`)).last_seq === 30, 15_000, 100);
    await eventually(async () => (await pgRoom(room.id)) === 30, 15_000, 100);
    await eventually(async () => (await pgReadSeq(room.id, b.id)) === 20, 15_000, 100);
    const { hex } = await roomObject(edge, room.id);
    await s.close();
    await reader.close();
    await stopEdge(edge);

    expect(deleteObjectStorage(persist, hex).length).toBeGreaterThan(0);
    // the archive is down when the room comes back: it cannot tell where it stands, so it takes nothing
    await sink.stop();
    sink = undefined;
    edge = await edgeOver(persist, vars);
    const refused = await openStream(edge, a, room.id).catch((err: { status?: number }) => err);
    expect((refused as { status?: number }).status).toBe(503);
    const early = await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: a.token });
    expect(early.status).toBe(503);
    expect(early.body.error.code).toBe("unavailable");
    const { rpc } = await roomObject(edge, room.id);
    expect((await rpc.inspect()).meta?.last_seq).toBe(0);

    sink = await startTheSink();
    const again = await openStream(edge, a, room.id, { waitSynced: false });
    const synced = await again.takeType("synced");
    expect(synced).toMatchObject({ last_seq: 30, has_more: true }); // nothing in the hot tail: page the archive
    expect(await sendAll(again, room.id, "after", 5)).toEqual(range(31, 35));
    // read offsets came back; a member who never read is at 0
    expect(await rpc.summary(b.id)).toMatchObject({ last_seq: 35, read_seq: 20 });
    expect(await rpc.summary(c.id)).toMatchObject({ last_seq: 35, read_seq: 0 });

    // history shows old and new, every seq once, and the archive kept the old rows as they were
    const seen = await historyBack(edge, b, room.id);
    expect(seen.map((m) => m.seq)).toEqual(range(1, 35).reverse());
    expect(seen.find((m) => m.seq === 1)!.body).toBe("before 1");
    expect(seen.find((m) => m.seq === 31)!.body).toBe("after 1");
    await eventually(async () => (await archivedSeqs(room.id)).length === 35, 15_000, 100);
    const page = await sinkGet(`/v1/rooms/${room.id}/messages?after_seq=0&limit=1`);
    expect(page.messages[0].body).toBe("before 1");
    await eventually(async () => (await pgRoom(room.id)) === 35, 15_000, 100);
    await again.close();
    await stopEdge(edge);
  }, 120_000);

  it("without a sink, continues after PostgreSQL's last seq", async () => {
    const persist = path.join(dir, "do-plain");
    let edge = await edgeOver(persist, {});
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    // a new room learns from its creation that no seq exists anywhere: nothing to ask
    expect((await (await roomObject(edge, room.id)).rpc.inspect()).recovering).toBe(false);
    const s = await openStream(edge, a, room.id);
    expect(await sendAll(s, room.id, "m", 4)).toEqual(range(1, 4));
    await eventually(async () => (await pgRoom(room.id)) === 4, 15_000, 100);
    // the same report moves the room's activity time (room lists order by it) to its newest message
    const newest = (await call(edge, "GET", `/v1/rooms/${room.id}/messages?limit=1`, { token: a.token })).body
      .messages[0].created_at;
    const { rows } = await db().query(`select updated_at from chat_rooms where id = $1`, [room.id]);
    expect(new Date(rows[0].updated_at).getTime()).toBeGreaterThanOrEqual(new Date(newest).getTime());
    const { hex } = await roomObject(edge, room.id);
    await s.close();
    await stopEdge(edge);
    expect(deleteObjectStorage(persist, hex).length).toBeGreaterThan(0);

    edge = await edgeOver(persist, {});
    const again = await openStream(edge, b, room.id, { waitSynced: false });
    expect(await again.takeType("synced")).toMatchObject({ last_seq: 4 });
    expect(await sendAll(again, room.id, "n", 2)).toEqual([5, 6]);
    await again.close();
    await stopEdge(edge);
  }, 120_000);
  it("gives a later joiner no history from before they joined, even when their start was never recorded", async () => {
    const persist = path.join(dir, "do-joined");
    sink ??= await startTheSink();
    const vars = { SINK_URL: `http://127.0.0.1:${SINK_PORT}`, SINK_SECRET: SECRET };
    let edge = await edgeOver(persist, vars);
    const [a, b, c, d] = (await people(4)) as [Seeded, Seeded, Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    expect(await sendAll(s, room.id, "early", 4)).toEqual(range(1, 4));
    const added = await call(edge, "POST", `/v1/rooms/${room.id}/members`, {
      token: a.token,
      body: { user_ids: [c.id, d.id] },
    });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    expect(await sendAll(s, room.id, "late", 2)).toEqual([5, 6]);
    const joinedSeq = async (u: Seeded) =>
      (await db().query(`select joined_seq from chat_members where room_id = $1 and user_id = $2`, [room.id, u.id]))
        .rows[0].joined_seq;
    // the room records where each later joiner starts; the first members start at 0
    await eventually(async () => Number(await joinedSeq(c)) === 4 && Number(await joinedSeq(d)) === 4, 15_000, 100);
    expect(Number(await joinedSeq(b))).toBe(0);
    await eventually(async () => (await pgRoom(room.id)) === 6, 15_000, 100);
    await eventually(async () => (await archivedSeqs(room.id)).length === 6, 15_000, 100);
    // as if the room's write for d had failed
    await db().query(`update chat_members set joined_seq = null where room_id = $1 and user_id = $2`, [room.id, d.id]);
    expect((await historyBack(edge, c, room.id)).map((m) => m.seq)).toEqual([6, 5]);
    const { hex } = await roomObject(edge, room.id);
    await s.close();
    await stopEdge(edge);
    expect(deleteObjectStorage(persist, hex).length).toBeGreaterThan(0);

    edge = await edgeOver(persist, vars);
    expect((await historyBack(edge, b, room.id)).map((m) => m.seq)).toEqual(range(1, 6).reverse());
    expect((await historyBack(edge, c, room.id)).map((m) => m.seq)).toEqual([6, 5]);
    // an unknown start is the recovered seq: nothing older, rather than everything
    expect(await historyBack(edge, d, room.id)).toEqual([]);
    const dStream = await openStream(edge, d, room.id, { afterSeq: 0, waitSynced: false });
    expect(await dStream.takeType("synced")).toMatchObject({ last_seq: 6 });
    expect(dStream.seen("message")).toEqual([]);
    await dStream.close();
    await stopEdge(edge);
  }, 120_000);
});

describe("a stream resumed after the hot tail was pruned", () => {
  it("says has_more, and replay plus paging from after_seq yields every seq once", async () => {
    sink ??= await startTheSink();
    const edge = await edgeOver(path.join(dir, "do-prune"), {
      SINK_URL: `http://127.0.0.1:${SINK_PORT}`,
      SINK_SECRET: SECRET,
      HOT_TAIL_MAX_MESSAGES: "5",
    });
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    const total = 60;
    expect(await sendAll(s, room.id, "p", total)).toEqual(range(1, total));
    const { rpc } = await roomObject(edge, room.id);
    await eventually(async () => (await rpc.inspect()).oldest_seq > 20, 15_000, 100);

    const after = 10;
    const resumed = await openStream(edge, b, room.id, { afterSeq: after, waitSynced: false });
    const synced = await resumed.takeType("synced");
    const replayed = resumed.seen("message").map((m) => m.seq as number);
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed[0]).toBeGreaterThan(after + 1); // the hole the archive holds
    expect(replayed.at(-1)).toBe(total);
    expect(synced).toMatchObject({ last_seq: total, has_more: true });

    // what the client does with has_more: page from after_seq up to the first replayed seq
    const paged: number[] = [];
    for (let from = after; ;) {
      const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=${from}&limit=7`, {
        token: b.token,
      });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const seqs = page.body.messages.map((m: { seq: number }) => m.seq) as number[];
      paged.push(...seqs.filter((q) => q < replayed[0]!));
      if (!page.body.has_more || seqs.length === 0 || seqs.at(-1)! >= replayed[0]! - 1) break;
      from = seqs.at(-1)!;
    }
    const all = [...paged, ...replayed];
    expect(all).toEqual(range(after + 1, total));
    expect(new Set(all).size).toBe(all.length);

    // and a stream that resumes inside the hot tail has nothing to page
    const near = await openStream(edge, b, room.id, { afterSeq: total - 2, device: "b2", waitSynced: false });
    expect(await near.takeType("synced")).toMatchObject({ has_more: false });
    expect(near.seen("message").map((m) => m.seq)).toEqual([total - 1, total]);
    await Promise.all([s.close(), resumed.close(), near.close()]);
    await sleep(0);
  }, 120_000);
});
