// Starts a real Cassandra 5.0 node (jars from Maven Central, cached outside git) on non-default
// ports in a temp dir, writes and reads a row, checks that a TTL really expires it, and stops it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCassandra, type RunningCassandra } from "./launcher.js";

const NATIVE_PORT = 19042;
const STORAGE_PORT = 17000;

describe("scripts/cassandra launcher", () => {
  let dataDir: string;
  let node: RunningCassandra | undefined;
  let client: cassandra.Client | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cassandra-test-"));
    const t = Date.now();
    node = await startCassandra({
      dataDir,
      nativePort: NATIVE_PORT,
      storagePort: STORAGE_PORT,
      heapMb: 512,
      log: (l) => lines.push(l),
    });
    console.log(`Cassandra ${node.version} ready in ${((Date.now() - t) / 1000).toFixed(1)} s (pid ${node.pid})`);
    // contactPoints carry the port, so no protocolOptions are needed
    client = new cassandra.Client({ contactPoints: node.contactPoints, localDataCenter: node.localDataCenter });
    await client.connect();
  }, 240_000);

  afterAll(async () => {
    await client?.shutdown().catch(() => {});
    await node?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("reports where it listens", () => {
    expect(node!.contactPoints).toEqual([`127.0.0.1:${NATIVE_PORT}`]);
    expect(node!.port).toBe(NATIVE_PORT);
    expect(node!.localDataCenter).toBe("datacenter1");
    expect(node!.version).toMatch(/^5\.0\./);
  });

  it("refuses a second node on the same port with a clear error", async () => {
    await expect(
      startCassandra({
        dataDir: path.join(dataDir, "other"),
        nativePort: NATIVE_PORT,
        storagePort: STORAGE_PORT + 1,
        log: () => {},
      }),
    ).rejects.toThrow(new RegExp(`port ${NATIVE_PORT} .*already in use`));
  });

  it("writes, reads, and expires a row with USING TTL", async () => {
    const c = client!;
    await c.execute(
      "CREATE KEYSPACE IF NOT EXISTS launcher_test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    await c.execute("CREATE TABLE IF NOT EXISTS launcher_test.kv (k text PRIMARY KEY, v text)");
    await c.execute("INSERT INTO launcher_test.kv (k, v) VALUES (?, ?) USING TTL 2", ["a", "hello"], { prepare: true });
    await c.execute("INSERT INTO launcher_test.kv (k, v) VALUES (?, ?)", ["b", "stays"], { prepare: true });

    const read = async (k: string) =>
      (await c.execute("SELECT v, TTL(v) AS ttl FROM launcher_test.kv WHERE k = ?", [k], { prepare: true })).first();
    const row = await read("a");
    expect(row?.get("v")).toBe("hello");
    expect(row?.get("ttl")).toBeGreaterThan(0);
    expect(row?.get("ttl")).toBeLessThanOrEqual(2);

    await new Promise((r) => setTimeout(r, 3000));
    expect(await read("a")).toBeNull();
    expect((await read("b"))?.get("v")).toBe("stays");
  }, 30_000);

  it("stops, and the JVM is gone", async () => {
    await client!.shutdown();
    client = undefined;
    const pid = node!.pid;
    const t = Date.now();
    await node!.stop();
    console.log(`stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    expect(() => process.kill(pid, 0)).toThrow(); // ESRCH
    await node!.stop(); // idempotent
    expect(fs.existsSync(path.join(dataDir, "cassandra.pid"))).toBe(false);
  }, 60_000);
});
