// The outbox end to end: a real sink behind the ChatRoom's alarm, over its SQLite store and over
// a real Cassandra 5.0 node (started from Maven Central jars, or CASSANDRA_CONTACT_POINTS),
// history paging across the hot tail and the archive, and offsets copied to PostgreSQL.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type RunningSink, type StoreConfig } from "../../cassandra-sink/index.js";
import { useOrStartCassandra, type CassandraEndpoint } from "../../scripts/cassandra/launcher.js";
import { call, closeDb, db } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { eventually, openStream } from "../../test/support/sockets.js";
import { direct, people, type Seeded } from "../../test/support/rooms.js";
import { freePort } from "../../test/support/ports.js";

const SECRET = "archive-test-secret-0123456789";
let edge: Edge;
let sink: RunningSink | undefined;
let port: number;
let dir: string;
let cassandraNode: (CassandraEndpoint & { stop?: () => Promise<void> }) | undefined;
const cassandraKeyspace = `edge_e2e_${randomUUID().replaceAll("-", "").slice(0, 12)}`;

const stores: Record<string, () => StoreConfig> = {
  sqlite: () => ({ kind: "sqlite", path: path.join(dir, "archive.sqlite"), purgeIntervalMs: 60_000 }),
  cassandra: () => ({
    kind: "cassandra",
    contactPoints: cassandraNode!.contactPoints,
    localDataCenter: cassandraNode!.localDataCenter,
    keyspace: cassandraKeyspace,
    replication: { class: "SimpleStrategy", replication_factor: 1 },
    consistency: "LOCAL_QUORUM",
    bucketSize: 100, // small buckets: the 2,000 messages span twenty partitions
    writeConcurrency: 64,
    migrateOnStart: true,
  }),
};
let storeKind: keyof typeof stores = "sqlite";
const startTheSink = () =>
  startSink({ secret: SECRET, port, host: "127.0.0.1", store: stores[storeKind]!(), log: () => {} });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-chat-archive-"));
  port = await freePort();
  edge = await startEdge(
    testEdgeOptions({
      SINK_URL: `http://127.0.0.1:${port}`,
      SINK_SECRET: SECRET,
      SEND_BURST: "5000",
      SEND_RATE_PER_SECOND: "5000",
      FRAME_BURST: "5000",
      FRAME_RATE_PER_SECOND: "5000",
      HOT_TAIL_MAX_MESSAGES: "50",
      ARCHIVE_RETRY_MAX_SECONDS: "1",
      ARCHIVE_FLUSH_MS: "250",
    }),
  );
}, 240_000);
afterAll(async () => {
  await sink?.stop();
  await edge?.close();
  await cassandraNode?.stop?.();
  await closeDb();
  rmSync(dir, { recursive: true, force: true });
});

async function archived(roomId: string): Promise<number[]> {
  const seqs: number[] = [];
  let after = 0;
  for (;;) {
    const res = await fetch(`${sink!.url}/v1/rooms/${roomId}/messages?after_seq=${after}&limit=100`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    const page = (await res.json()) as { messages: Array<{ seq: number }>; has_more: boolean };
    seqs.push(...page.messages.map((m) => m.seq));
    if (!page.has_more || page.messages.length === 0) return seqs;
    after = page.messages.at(-1)!.seq;
  }
}

describe.each(["sqlite", "cassandra"] as const)("the outbox and the archive (%s store)", (kind) => {
  beforeAll(async () => {
    await sink?.stop();
    sink = undefined;
    storeKind = kind;
    if (kind === "cassandra") {
      // the node's own log is kept for a failure to start, not printed into the test output
      const nodeLog: string[] = [];
      cassandraNode = await useOrStartCassandra({
        dataDir: path.join(dir, "cassandra"),
        nativePort: 19242,
        storagePort: 17200,
        heapMb: 512,
        log: (l) => nodeLog.push(l),
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${nodeLog.slice(-40).join("\n")}`);
      });
    }
  }, 240_000);

  it("holds 2,000 messages while the sink is down, then archives each exactly once, in order", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    const total = 2000;
    for (let i = 1; i <= total; i++)
      s.send({ type: "send", room_id: room.id, client_message_id: `a${i}`, body: `message ${i}` });
    const acks = await s.takeN("ack", total, 60_000);
    expect(acks.at(-1)!.seq).toBe(total);
    const reader = await openStream(edge, b, room.id, { device: "b", waitSynced: false });
    reader.send({ type: "read", room_id: room.id, seq: 1500 });
    await reader.take((f) => f.type === "receipt" && f.read_seq === 1500);
    await reader.close();
    await new Promise((r) => setTimeout(r, 1500)); // a few failed flushes while nobody listens
    sink = await startTheSink();
    const seqs = await eventually(
      async () => {
        const got = await archived(room.id);
        return got.length >= total ? got : null;
      },
      30_000,
      250,
    );
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // the read offset reached the archive and PostgreSQL's copy
    await eventually(async () => {
      const { rows } = await db().query(`select last_read_seq from chat_members where room_id = $1 and user_id = $2`, [
        room.id,
        b.id,
      ]);
      return Number(rows[0].last_read_seq) === 1500;
    }, 10_000);
    const offsets = (await (
      await fetch(`${sink.url}/v1/rooms/${room.id}/read-offsets`, { headers: { authorization: `Bearer ${SECRET}` } })
    ).json()) as { offsets: unknown[] };
    // the sender's read covers only their own messages: the room keeps it, no copy
    expect(offsets.offsets).toEqual([expect.objectContaining({ user_id: b.id, read_seq: 1500 })]);

    // the hot tail shrank to its bound once the archive held the rest
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const state = await (
      ns.get(ns.idFromName(room.id)) as unknown as {
        inspect(): Promise<{ oldest_seq: number; outbox: Record<string, number> }>;
      }
    ).inspect();
    expect(state.oldest_seq).toBeGreaterThan(total - 60);
    expect(state.outbox.message ?? 0).toBe(0);

    // paging back from the newest reaches the first message with no gap and no duplicate
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await call(
        edge,
        "GET",
        `/v1/rooms/${room.id}/messages?limit=100${before ? `&before_seq=${before}` : ""}`,
        { token: b.token },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.messages.map((m: { seq: number }) => m.seq));
      if (!page.body.has_more) break;
      before = page.body.messages.at(-1).seq;
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => total - i));
    // and forward from the start, across the boundary the other way
    const forward = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=1930&limit=40`, {
      token: b.token,
    });
    expect(forward.body.messages.map((m: { seq: number }) => m.seq)).toEqual(
      Array.from({ length: 40 }, (_, i) => 1931 + i),
    );
    expect(forward.body.has_more).toBe(true);
    await s.close();
  }, 120_000);

  it("answers history beyond the hot tail with 503 while the archive is unreachable, and the hot tail still works", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    for (let i = 1; i <= 120; i++)
      s.send({ type: "send", room_id: room.id, client_message_id: `h${i}`, body: `m${i}` });
    await s.takeN("ack", 120, 30_000);
    sink ??= await startTheSink();
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const inspect = () =>
      (ns.get(ns.idFromName(room.id)) as unknown as { inspect(): Promise<{ oldest_seq: number }> }).inspect();
    await eventually(async () => (await inspect()).oldest_seq > 1, 15_000, 200);
    await sink.stop();
    sink = undefined;
    expect(
      (await call(edge, "GET", `/v1/rooms/${room.id}/messages?limit=10`, { token: b.token })).body.messages[0].seq,
    ).toBe(120);
    expect((await call(edge, "GET", `/v1/rooms/${room.id}/messages?before_seq=5`, { token: b.token })).status).toBe(
      503,
    );
    await s.close();
  }, 60_000);
});
