// cassandra-sink throughput into a local Cassandra node, and archived history page latency.
//   npx tsx bench/sink-throughput.ts [--messages 100000] [--concurrency 8] [--pages 2000] [--fast]
// Starts (or, with CASSANDRA_CONTACT_POINTS, uses) a Cassandra node, runs the sink as its own
// process (as in production, so the load generator does not share its event loop), then:
//   1. POSTs batches of 1, 50 and 200 messages with `concurrency` batches in flight; msgs/s.
//   2. GETs 50-message history pages from random places in a 20,000-message room, one at a time; p50/p99.
// Everything runs on this machine: the node, the sink and this generator share its cores.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import cassandra from "cassandra-driver";
import type { ArchiveMessageInput } from "../protocol/index.js";
import { LOCAL_DATA_CENTER, startCassandra } from "../scripts/cassandra/launcher.js";
import { fmt, summary } from "./stats.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    concurrency: { type: "string", default: "8" },
    pages: { type: "string", default: "2000" },
    fast: { type: "boolean", default: false },
    "heap-mb": { type: "string", default: "1024" },
  },
});
const totalMessages = Number(values.messages);
const concurrency = Number(values.concurrency);
const pageCount = Number(values.pages);
const root = path.resolve(import.meta.dirname, "..");
const SECRET = `bench-${randomUUID()}`;
let cassandraPid: number | undefined;
let sinkPid: number | undefined;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function request(url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${SECRET}`,
          ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const words = "the quick brown fox jumps over a lazy dog while we ship the archive on time again".split(" ");
function makeMessage(roomId: string, seq: number, sender: string): ArchiveMessageInput {
  const body = Array.from({ length: 8 + (seq % 25) }, (_, i) => words[(seq * 7 + i) % words.length]).join(" ");
  return {
    room_id: roomId,
    seq,
    message_id: cassandra.types.TimeUuid.now().toString(),
    sender_id: sender,
    client_message_id: `c-${seq}`,
    body,
    mentions: seq % 10 === 0 ? [sender] : [],
    mention_all: false,
    // about one message in twenty carries an attachment, as in a chat with some images
    attachments:
      seq % 20 === 0
        ? [
            {
              id: `att-${seq}`,
              url: `https://cdn.example.test/${roomId}/${seq}.jpg`,
              mime: "image/jpeg",
              size: 123_456,
              name: `${seq}.jpg`,
            },
          ]
        : [],
    created_at: new Date().toISOString(),
  };
}

async function startSinkProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = 18_900 + Math.floor(Math.random() * 500);
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "cassandra-sink/main.ts")], {
    cwd: root,
    env: { ...process.env, ...env, SINK_PORT: String(port), SINK_SECRET: SECRET },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sink exited with ${child.exitCode}`);
    try {
      if ((await request(`${url}/readyz`, "GET")).status === 200) return { url, child };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("sink did not become ready");
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined when unknown */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return undefined;
  }
}

async function throughput(url: string, batchSize: number, total: number) {
  const rooms = Array.from({ length: 200 }, () => ({ id: randomUUID(), sender: randomUUID(), seq: 0 }));
  // Bodies are built before the clock starts, so the generator's own JSON work (on the same two
  // cores) is not in the measurement. A ChatRoom's outbox sends its own room's messages: one room per batch.
  const bodies: string[] = [];
  for (let sent = 0, r = 0; sent < total; sent += batchSize) {
    const room = rooms[r++ % rooms.length]!;
    const messages = Array.from({ length: Math.min(batchSize, total - sent) }, () =>
      makeMessage(room.id, ++room.seq, room.sender),
    );
    bodies.push(JSON.stringify({ batch_id: randomUUID(), messages, read_offsets: [] }));
  }
  let next = 0;
  const nextBatch = () => bodies[next++];
  const latencies: number[] = [];
  const cpu0 = { cassandra: cpuSeconds(cassandraPid), sink: cpuSeconds(sinkPid), self: process.cpuUsage() };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let body = nextBatch(); body; body = nextBatch()) {
        const t = performance.now();
        const res = await request(`${url}/v1/batches`, "POST", body);
        if (res.status !== 200) throw new Error(`batch: ${res.status} ${res.text}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(cpu0.self);
  const perMessageUs = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? NaN : ((b - a) * 1e6) / total;
  const cpu = {
    cassandra: perMessageUs(cpu0.cassandra, cpuSeconds(cassandraPid)),
    sink: perMessageUs(cpu0.sink, cpuSeconds(sinkPid)),
    generator: (self.user + self.system) / total,
  };
  return { rate: total / seconds, seconds, batch: summary(latencies), cpu };
}

async function pageLatency(url: string) {
  const room = randomUUID();
  const sender = randomUUID();
  const size = 20_000;
  for (let s = 1; s <= size; s += 200) {
    const messages = Array.from({ length: Math.min(200, size - s + 1) }, (_, i) => makeMessage(room, s + i, sender));
    const res = await request(`${url}/v1/batches`, "POST", JSON.stringify({ batch_id: randomUUID(), messages }));
    if (res.status !== 200) throw new Error(`fill: ${res.status} ${res.text}`);
  }
  const samples: number[] = [];
  for (let i = 0; i < pageCount + 100; i++) {
    const before = 51 + Math.floor(Math.random() * (size - 50));
    const t = performance.now();
    const res = await request(`${url}/v1/rooms/${room}/messages?limit=50&before_seq=${before}`, "GET");
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`page: ${res.status} ${res.text}`);
    const page = JSON.parse(res.text) as { messages: unknown[] };
    if (page.messages.length !== 50) throw new Error(`page had ${page.messages.length} messages`);
    if (i >= 100) samples.push(ms); // the first hundred warm up prepared statements and the JIT
  }
  return summary(samples);
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sink-bench-"));
  console.log(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  // CASSANDRA_CONTACT_POINTS: an existing node (its CPU is not accounted); else one of our own
  const configured = process.env.CASSANDRA_CONTACT_POINTS?.split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const node = configured?.length
    ? {
        origin: "configured",
        contactPoints: configured,
        localDataCenter: process.env.CASSANDRA_LOCAL_DC || LOCAL_DATA_CENTER,
        stop: async () => {},
      }
    : await startCassandra({
        dataDir,
        nativePort: 29_142,
        storagePort: 27_100,
        heapMb: Number(values["heap-mb"]),
        fast: values.fast,
        log: () => {},
      }).then((n) => {
        cassandraPid = n.pid;
        return { origin: "started", contactPoints: n.contactPoints, localDataCenter: n.localDataCenter, stop: n.stop };
      });
  console.log(
    `Cassandra ${node.origin} at ${node.contactPoints.join(",")}${node.origin === "started" ? ` (heap ${values["heap-mb"]} MB, fast=${values.fast})` : ""}`,
  );
  const keyspace = `bench_${Date.now().toString(36)}`;
  const sink = await startSinkProcess({
    CASSANDRA_CONTACT_POINTS: node.contactPoints.join(","),
    CASSANDRA_LOCAL_DC: node.localDataCenter,
    CASSANDRA_KEYSPACE: keyspace,
    CASSANDRA_CONSISTENCY: "LOCAL_QUORUM",
  });
  sinkPid = sink.child.pid;
  try {
    console.log(`sink ${sink.url} (keyspace ${keyspace}, LOCAL_QUORUM, RF 1); ${concurrency} batches in flight\n`);
    // warm-up: both JITs (Cassandra's takes tens of thousands of writes), prepared statements, pools
    for (const batchSize of [200, 50, 1]) await throughput(sink.url, batchSize, batchSize === 1 ? 3000 : 30_000);
    for (const batchSize of [1, 50, 200]) {
      const total = batchSize === 1 ? Math.min(totalMessages, 10_000) : totalMessages;
      const r = await throughput(sink.url, batchSize, total);
      console.log(
        `batch ${String(batchSize).padStart(3)}: ${Math.round(r.rate).toLocaleString("en-US").padStart(7)} msgs/s  (${total} msgs in ${r.seconds.toFixed(1)} s; per batch p50 ${fmt(r.batch.p50)}, p99 ${fmt(r.batch.p99)}; ` +
          `CPU per message: Cassandra ${r.cpu.cassandra.toFixed(0)} µs, sink ${r.cpu.sink.toFixed(0)} µs, generator ${r.cpu.generator.toFixed(0)} µs; ` +
          `all ${os.cpus().length} cores at that cost: ${Math.round((os.cpus().length * 1e6) / (r.cpu.cassandra + r.cpu.sink + r.cpu.generator)).toLocaleString("en-US")} msgs/s)`,
      );
    }
    const p = await pageLatency(sink.url);
    console.log(
      `\nhistory page (50 messages, random before_seq in a 20,000-message room, sequential): n=${p.n} p50 ${fmt(p.p50)} p99 ${fmt(p.p99)} max ${fmt(p.max)}`,
    );
    // other work on the machine shows here: the numbers above assume it had the cores to itself
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    sink.child.kill("SIGTERM");
    await new Promise((r) => sink.child.once("exit", r));
    agent.destroy();
    if (node.origin === "configured") {
      const c = new cassandra.Client({ contactPoints: node.contactPoints, localDataCenter: node.localDataCenter });
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      await c.shutdown();
    }
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
