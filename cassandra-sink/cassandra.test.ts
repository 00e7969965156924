// The sink's shared behaviour suite against a real Cassandra 5.0 node (started here, or the
// cluster CASSANDRA_CONTACT_POINTS names), plus what only Cassandra has: the schema it applies, TTLs
// on the rows themselves, and the node going away and coming back under a running sink.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startCassandra,
  useOrStartCassandra,
  type CassandraEndpoint,
  type RunningCassandra,
} from "../scripts/cassandra/launcher.js";
import type { CassandraStoreConfig } from "./config.js";
import { startSink, type RunningSink } from "./index.js";
import { client, message, SECRET, sinkBehaviour, type SuiteTarget } from "../test/support/sink-suite.js";

// distinct from the launcher's own test (19042/17000) so both files can run at once
const NATIVE_PORT = 19142;
const STORAGE_PORT = 17100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cassandra-sink on Cassandra", () => {
  let dataDir: string;
  let node: CassandraEndpoint;
  let cql: cassandra.Client;
  let sink: RunningSink;
  const keyspaces: string[] = [];
  const sinks: RunningSink[] = [];
  const nodeLog: string[] = [];
  const sinkLog: string[] = [];

  const storeConfig = (o: {
    retentionSeconds?: number;
    bucketSize: number;
    contactPoints?: string[];
    keyspace?: string;
  }): CassandraStoreConfig => {
    const keyspace = o.keyspace ?? `sink_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    if (!keyspaces.includes(keyspace)) keyspaces.push(keyspace);
    return {
      kind: "cassandra",
      contactPoints: o.contactPoints ?? node.contactPoints,
      localDataCenter: node.localDataCenter,
      keyspace,
      replication: { class: "SimpleStrategy", replication_factor: 1 },
      consistency: "LOCAL_QUORUM", // with RF 1 a quorum is the one replica
      bucketSize: o.bucketSize,
      writeConcurrency: 64,
      migrateOnStart: true,
    };
  };
  const target: SuiteTarget = {
    async start({ retentionSeconds, bucketSize }) {
      const s = await startSink({
        secret: SECRET,
        retentionSeconds,
        store: storeConfig({ bucketSize }),
        log: (l) => sinkLog.push(l),
      });
      sinks.push(s);
      return s;
    },
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sink-cassandra-"));
    const t = Date.now();
    node = await useOrStartCassandra({
      dataDir,
      nativePort: NATIVE_PORT,
      storagePort: STORAGE_PORT,
      heapMb: 512,
      log: (l) => nodeLog.push(l),
    });
    console.log(
      `Cassandra (${node.origin}) at ${node.contactPoints.join(",")} in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
    cql = new cassandra.Client({ contactPoints: node.contactPoints, localDataCenter: node.localDataCenter });
    await cql.connect();
    sink = await target.start({ retentionSeconds: 15_552_000, bucketSize: 10 });
  }, 240_000);

  afterAll(async () => {
    for (const s of sinks) await s.stop().catch(() => {});
    if (node?.origin === "configured")
      for (const ks of keyspaces) await cql?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => {});
    await cql?.shutdown().catch(() => {});
    await node?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 90_000);

  sinkBehaviour(
    () => target,
    () => sink,
  );

  describe("Cassandra specifics", () => {
    const ks = () => keyspaces[0]!;

    it("applies its schema: bucketed partitions newest first, TTL and TWCS on messages and attachments, plain read offsets", async () => {
      const tables = await cql.execute(
        "SELECT table_name, default_time_to_live, compaction FROM system_schema.tables WHERE keyspace_name = ?",
        [ks()],
        { prepare: true },
      );
      const byName = Object.fromEntries(tables.rows.map((r) => [r.get("table_name") as string, r]));
      expect(Object.keys(byName).sort()).toEqual([
        "archive_settings",
        "message_attachments",
        "messages",
        "read_offsets",
        "room_buckets",
        "room_last_seq",
      ]);
      for (const t of ["messages", "message_attachments"]) {
        expect(byName[t]!.get("default_time_to_live")).toBe(15_552_000);
        expect(byName[t]!.get("compaction")).toMatchObject({
          class: "org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy",
          compaction_window_unit: "DAYS",
          compaction_window_size: "6",
        });
      }
      expect(byName.read_offsets!.get("default_time_to_live")).toBe(0);
      expect(byName.read_offsets!.get("compaction").class).not.toMatch(/TimeWindow/);

      const columns = await cql.execute(
        "SELECT table_name, column_name, kind, clustering_order, type FROM system_schema.columns WHERE keyspace_name = ?",
        [ks()],
        { prepare: true },
      );
      const col = (t: string, c: string) =>
        columns.rows.find((r) => r.get("table_name") === t && r.get("column_name") === c);
      expect(col("messages", "room_id")?.get("kind")).toBe("partition_key");
      expect(col("messages", "bucket")?.get("kind")).toBe("partition_key");
      expect(col("messages", "seq")?.get("clustering_order")).toBe("desc");
      expect(col("messages", "message_id")?.get("type")).toBe("timeuuid");
      for (const c of [
        "sender_id",
        "client_message_id",
        "body",
        "mentioned_user_ids",
        "mention_all",
        "reply_to_seq",
        "status",
        "created_at",
        "updated_at",
      ])
        expect(col("messages", c), c).toBeDefined();
      expect(col("message_attachments", "seq")?.get("clustering_order")).toBe("desc");
      expect(col("message_attachments", "idx")?.get("kind")).toBe("clustering");
      expect(col("read_offsets", "room_id")?.get("kind")).toBe("partition_key");
      expect(col("read_offsets", "user_id")?.get("kind")).toBe("clustering");

      const replication = (
        await cql.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", [ks()], {
          prepare: true,
        })
      )
        .first()
        ?.get("replication");
      expect(replication).toMatchObject({
        class: "org.apache.cassandra.locator.SimpleStrategy",
        replication_factor: "1",
      });
    });

    it("puts each message in the partition of its seq bucket", async () => {
      const room = randomUUID();
      await client(sink).ok({ batch_id: "buckets", messages: [9, 10, 25].map((s) => message(room, s)) });
      const rows = await cql.execute(
        `SELECT bucket, seq FROM ${ks()}.messages WHERE room_id = ? AND bucket IN (0, 1, 2)`,
        [room],
        { prepare: true },
      );
      expect(
        rows.rows.map((r) => [r.get("bucket").toNumber(), r.get("seq").toNumber()]).sort((a, b) => a[1]! - b[1]!),
      ).toEqual([
        [0, 9],
        [1, 10],
        [2, 25],
      ]);
    });

    it("refuses to start on a keyspace made with another bucket size", async () => {
      await expect(
        startSink({
          secret: SECRET,
          store: storeConfig({ bucketSize: 11, keyspace: ks() }),
          initTimeoutMs: 500,
          log: () => {},
        }),
      ).rejects.toThrow(/bucket size 10/);
    });

    it("writes each message with TTL = retention minus its age, on the rows themselves, which then really expire", async () => {
      const ttlSink = await startSink({
        secret: SECRET,
        retentionSeconds: 8,
        store: storeConfig({ bucketSize: 10 }),
        log: (l) => sinkLog.push(l),
      });
      sinks.push(ttlSink);
      const ttlKs = keyspaces[keyspaces.length - 1]!;
      const room = randomUUID();
      const now = Date.now();
      await client(ttlSink).ok({
        batch_id: "ttl",
        messages: [
          message(room, 1, {
            created_at: new Date(now).toISOString(),
            attachments: [{ id: "a", url: "https://x.test/a", mime: "image/png", size: 1, name: "a" }],
          }),
          message(room, 2, { created_at: new Date(now - 4500).toISOString() }), // ~3.5 s left: TTL 3
          message(room, 3, { created_at: new Date(now - 9000).toISOString() }), // past retention
        ],
      });
      const ttls = async () =>
        Object.fromEntries(
          (
            await cql.execute(
              `SELECT seq, TTL(body) AS ttl FROM ${ttlKs}.messages WHERE room_id = ? AND bucket = 0`,
              [room],
              { prepare: true },
            )
          ).rows.map((r) => [r.get("seq").toNumber(), r.get("ttl")]),
        );
      const first = await ttls();
      expect(Object.keys(first).sort()).toEqual(["1", "2"]); // 3 was past retention: not written
      // TTL() counts down in whole seconds from the write: 7 or 8 then, maybe a second or two less by now
      expect(first[1]).toBeGreaterThanOrEqual(5);
      expect(first[1]).toBeLessThanOrEqual(8);
      expect(first[2]).toBeGreaterThan(0);
      expect(first[2]).toBeLessThanOrEqual(4);
      const att = await cql.execute(
        `SELECT TTL(url) AS ttl FROM ${ttlKs}.message_attachments WHERE room_id = ? AND bucket = 0`,
        [room],
        { prepare: true },
      );
      expect(att.first()?.get("ttl")).toBeGreaterThanOrEqual(5);

      await sleep(8500);
      expect(
        (
          await cql.execute(`SELECT seq FROM ${ttlKs}.messages WHERE room_id = ? AND bucket = 0`, [room], {
            prepare: true,
          })
        ).rowLength,
      ).toBe(0);
      expect(
        (
          await cql.execute(`SELECT seq FROM ${ttlKs}.message_attachments WHERE room_id = ? AND bucket = 0`, [room], {
            prepare: true,
          })
        ).rowLength,
      ).toBe(0);
    }, 30_000);

    it("writes read offsets at their own timestamp and without TTL", async () => {
      const room = randomUUID();
      const user = randomUUID();
      const updated = new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 123));
      await client(sink).ok({
        batch_id: "off",
        read_offsets: [{ room_id: room, user_id: user, read_seq: 9, updated_at: updated.toISOString() }],
      });
      const row = (
        await cql.execute(
          `SELECT WRITETIME(read_seq) AS wt, TTL(read_seq) AS ttl FROM ${ks()}.read_offsets WHERE room_id = ?`,
          [room],
          { prepare: true },
        )
      ).first();
      expect(row?.get("wt").toString()).toBe(String(updated.getTime() * 1000));
      expect(row?.get("ttl")).toBeNull();
    });

    // Last in the file: it stops the node the other tests use, and brings it back.
    it("reports not ready while Cassandra is down, recovers when it is back, and a retried write then succeeds with nothing lost", async () => {
      // With a configured cluster there is no node of ours to stop: use a private one for this test.
      let own: RunningCassandra | undefined;
      const nodeDir =
        node.origin === "started" ? dataDir : fs.mkdtempSync(path.join(os.tmpdir(), "sink-cassandra-restart-"));
      const nativePort = node.origin === "started" ? NATIVE_PORT : NATIVE_PORT + 1;
      const storagePort = node.origin === "started" ? STORAGE_PORT : STORAGE_PORT + 1;
      if (node.origin === "configured")
        own = await startCassandra({ dataDir: nodeDir, nativePort, storagePort, log: (l) => nodeLog.push(l) });
      const s = await startSink({
        secret: SECRET,
        store: storeConfig({ bucketSize: 10, contactPoints: [`127.0.0.1:${nativePort}`] }),
        log: (l) => sinkLog.push(l),
      });
      sinks.push(s);
      const c = client(s);
      const room = randomUUID();
      await c.ok({ batch_id: "before", messages: [1, 2, 3].map((q) => message(room, q)) });

      const stopNode = own ? own.stop : node.stop;
      await stopNode();
      const ready = async () => (await fetch(`${s.url}/readyz`)).status;
      const downSince = Date.now();
      while ((await ready()) !== 503) {
        expect(Date.now() - downSince).toBeLessThan(15_000);
        await sleep(200);
      }
      const down = await fetch(`${s.url}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { error: { code: string } }).error.code).toBe("unavailable");

      const pending = {
        batch_id: "during-outage",
        messages: [4, 5, 6].map((q) => message(room, q)),
        read_offsets: [{ room_id: room, user_id: randomUUID(), read_seq: 6, updated_at: new Date().toISOString() }],
      };
      const refused = await c.post(pending);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe("unavailable");
      expect((await c.page(room)).status).toBe(503);

      const restarted = await startCassandra({
        dataDir: nodeDir,
        nativePort,
        storagePort,
        log: (l) => nodeLog.push(l),
      });
      if (own) own = restarted;
      else node = { ...node, stop: restarted.stop };
      const upSince = Date.now();
      while ((await ready()) !== 200) {
        expect(Date.now() - upSince, "readyz back to 200 after the node returned").toBeLessThan(30_000);
        await sleep(250);
      }
      // the outbox's retry of the refused batch
      let retried = await c.post(pending);
      for (let i = 0; retried.status !== 200 && i < 20; i++) {
        await sleep(500);
        retried = await c.post(pending);
      }
      expect(retried.status, JSON.stringify(retried.body)).toBe(200);
      expect(await c.seqs(room)).toEqual({ seqs: [6, 5, 4, 3, 2, 1], has_more: false });
      expect((await c.offsets(room)).body.offsets.map((o) => o.read_seq)).toEqual([6]);
      if (own) await own.stop();
      if (own) fs.rmSync(nodeDir, { recursive: true, force: true });
    }, 150_000);
  });
});
