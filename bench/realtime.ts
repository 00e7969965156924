// Realtime load generator over real WebSockets against a running edge (`npm start` first).
//   npx tsx bench/realtime.ts [--base http://127.0.0.1:8787] [--seconds 20] [--only direct,large,throughput]
// It seeds its users straight into the edge's PostgreSQL and signs their access tokens with the
// edge's dev key (both read from .data/edge.env, which npm start writes), then uses only the
// public API: tickets, room streams, send frames, acks.
//   direct      100 direct rooms, both members' streams open, 200 msgs/s in all: send -> peer receives
//   large       one 1,000-member group, every member's stream open, 5 msgs/s: send -> last of 999 receives
//   throughput  one room, 10 senders with 20 sends in flight each: acked messages per second
//               (start the edge with SEND_RATE_PER_SECOND=100000 SEND_BURST=100000 FRAME_RATE_PER_SECOND=100000
//               FRAME_BURST=100000 for this one)
//   fresh       100 pairs registered over REST and their direct rooms created just before, no
//               warm-up, 200 msgs/s: a room's first seconds (table creation, first sync, first
//               flush) inside the measured window, with a per-second timeline
//   first       20 new pairs, one room at a time: a room's first message beside its second (what a
//               room's first use costs, without the load of the others)
//   steps       one room, 10 senders and 10 receivers, open-loop paced rate steps: the highest
//               rate whose send -> receiver p99 stays within 100 ms (send limits lifted as above)
// Streams open with batch=1, as the SDK's do; BENCH_BATCH=0 measures one frame per message.
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import WebSocket from "ws";
import { mapLimit } from "../lib/parallel/index.js";
import { unpackFrames } from "../protocol/batch.js";
import { accessToken } from "../test/support/tokens.js";
import { readEdgeEnv } from "./edge-env.js";
import { fmt, summary } from "./stats.js";

const { values } = parseArgs({
  options: {
    base: { type: "string", default: "http://127.0.0.1:8787" },
    seconds: { type: "string", default: "20" },
    only: { type: "string", default: "direct,large,throughput,fresh,steps,first" },
    env: { type: "string", default: ".data/edge.env" },
  },
});
const base = values.base!;
const seconds = Number(values.seconds);
const only = new Set(values.only!.split(","));

const env = readEdgeEnv(values.env!);
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });

interface User {
  id: string;
  handle: string;
  token: string;
}

async function seed(n: number): Promise<User[]> {
  const tag = Date.now().toString(36);
  const handles = Array.from({ length: n }, (_, i) => `b${tag}_${i}`);
  const { rows } = await db.query<{ id: string; handle: string }>(
    `insert into users (handle, display_name) select h, h from unnest($1::text[]) as h returning id, handle`,
    [handles],
  );
  return Promise.all(
    rows.map(async (r) => ({
      ...r,
      token: await accessToken(env.JWT_PRIVATE_JWK!, r, 3600),
    })),
  );
}

async function api<T>(method: string, p: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

type Handler = (frame: any) => void;
interface Stream {
  ws: WebSocket;
  on: Handler;
}

async function openStream(user: User, roomId: string, on: Handler): Promise<Stream> {
  const { ticket } = await api<{ ticket: string }>("POST", "/v1/connect/ticket", user.token, {
    device_id: "bench",
    room_id: roomId,
  });
  // No permessage-deflate offer: deployed, the Worker runs with no_web_socket_compression (see
  // wrangler.toml), but locally the entry proxy in front of it (wrangler's, Miniflare's) would
  // still agree to compress every frame for every socket. UTF-8 checks are skipped because this
  // one process plays a thousand clients; a real device checks only its own frames.
  // batch=1 as the SDK asks (BENCH_BATCH=0: one frame a message, the v1 default)
  const batch = process.env.BENCH_BATCH === "0" ? "" : "&batch=1";
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/v1/rooms/${roomId}/stream?ticket=${ticket}${batch}`, {
    perMessageDeflate: process.env.BENCH_DEFLATE === "1",
    skipUTF8Validation: true,
  });
  const stream: Stream = { ws, on };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_q, r) => reject(new Error(`upgrade ${r.statusCode}`)));
  });
  ws.on("message", (data) => {
    for (const frame of unpackFrames(data.toString())) stream.on(frame);
  });
  // keep the sockets alive as a client would
  const ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), 25_000);
  ws.once("close", () => clearInterval(ping));
  return stream;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let cmidCounter = 0;
const cmid = () => `b-${process.pid}-${++cmidCounter}`;

// This one process plays every client: when its own event loop stalls, every latency it measures
// grows with it, so each report says how late its timers ran (since the measurement began).
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const measuring = () => loopDelay.reset();
const clientLoop = () =>
  `   (client loop delay p99 ${fmt(loopDelay.percentile(99) / 1e6)} max ${fmt(loopDelay.max / 1e6)})`;

function report(name: string, samples: number[], extra = "") {
  const s = summary(samples);
  console.log(
    `${name.padEnd(44)} n=${String(s.n).padEnd(6)} p50 ${fmt(s.p50).padEnd(10)} p95 ${fmt(s.p95).padEnd(10)} p99 ${fmt(s.p99).padEnd(10)} max ${fmt(s.max)}${extra}${clientLoop()}`,
  );
}

/** Users made the way an app makes them: POST /v1/auth/register (lift PASSWORD_SCRYPT_LOG_N for speed). */
async function register(n: number): Promise<User[]> {
  const tag = Date.now().toString(36);
  const made = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    10,
    async (i) => {
      const handle = `r${tag}_${i}`;
      const res = await fetch(`${base}/v1/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ handle, password: "bench-password-1", display_name: handle }),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`register: ${res.status} ${text}`);
      const body = JSON.parse(text) as { user: { id: string }; access_token: string };
      return { id: body.user.id, handle, token: body.access_token };
    },
  );
  const failed = made.find((u) => u instanceof Error);
  if (failed) throw failed;
  return made as User[];
}

function timeline(latencies: number[], at: number[], seconds: number) {
  for (let sec = 0; sec < seconds; sec++) {
    const slice = latencies.filter((_, k) => at[k]! >= sec * 1000 && at[k]! < (sec + 1) * 1000);
    const s = summary(slice);
    console.log(
      `  second ${String(sec).padStart(2)}: n ${String(s.n).padEnd(4)} p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)}`,
    );
  }
}

/** 200 msgs/s in all, spread evenly (one send every 5 ms, round robin over the pairs); returns how many. */
async function pairsAt200(
  pairs: ReadonlyArray<{ sa: Stream; roomId: string }>,
  sentAt: Map<string, number>,
  start: number,
): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let i = 0;
  measuring();
  while (Date.now() < end) {
    const wait = start + i * 5 - performance.now();
    if (wait > 1) await sleep(wait);
    const p = pairs[i % pairs.length]!;
    const id = cmid();
    sentAt.set(id, performance.now());
    p.sa.ws.send(JSON.stringify({ type: "send", room_id: p.roomId, client_message_id: id, body: "x".repeat(64) }));
    i++;
  }
  return i;
}

const READS = process.env.BENCH_READS === "1";

async function direct() {
  const users = await seed(200);
  const pairs: Array<[User, User]> = Array.from({ length: 100 }, (_, i) => [users[2 * i]!, users[2 * i + 1]!]);
  const rooms = await mapLimit(pairs, 10, ([a, b]) =>
    api<{ room: { id: string } }>("POST", "/v1/rooms", a.token, { type: "direct", peer_id: b.id }),
  );
  const latencies: number[] = [];
  const at: number[] = [];
  let start = 0;
  const sentAt = new Map<string, number>();
  const streams = await mapLimit(pairs, 10, async ([a, b], i) => {
    const roomId = (rooms[i] as { room: { id: string } }).room.id;
    let sb: Stream | undefined;
    const onPeer: Handler = (f) => {
      if (f.type !== "message") return;
      const t = sentAt.get(f.client_message_id);
      if (t !== undefined && f.sender_id !== b.id) {
        latencies.push(performance.now() - t);
        at.push(t - start);
      }
      // BENCH_READS=1: the peer marks each message read, as a chat app does with what is on screen
      if (READS) sb?.ws.send(JSON.stringify({ type: "read", room_id: roomId, seq: f.seq }));
    };
    const sa = await openStream(a, roomId, () => {});
    sb = await openStream(b, roomId, onPeer);
    return { sa, sb, roomId };
  });
  const ok = streams.filter((s): s is Exclude<typeof s, Error> => !(s instanceof Error));
  if (ok.length !== 100)
    throw new Error(`only ${ok.length} pairs connected: ${streams.find((s) => s instanceof Error)}`);
  await sleep(500);
  // warm-up, not measured: each room's first messages wake its object and JIT the paths
  for (let round = 0; round < 3; round++) {
    for (const p of ok)
      p.sa.ws.send(JSON.stringify({ type: "send", room_id: p.roomId, client_message_id: cmid(), body: "warm-up" }));
    await sleep(1000);
  }
  start = performance.now();
  const i = await pairsAt200(ok, sentAt, start);
  await sleep(1000);
  report(
    `1:1 send -> peer receives (100 pairs, 200/s${READS ? ", peer reads" : ""})`,
    latencies,
    `   sent ${i}, received ${latencies.length}`,
  );
  if (process.env.BENCH_TIMELINE) timeline(latencies, at, seconds);
  for (const p of ok) {
    p.sa.ws.close();
    p.sb.ws.close();
  }
}

async function large() {
  const users = await seed(1000);
  const [owner, ...rest] = users as [User, ...User[]];
  const { room } = await api<{ room: { id: string } }>("POST", "/v1/rooms", owner.token, {
    type: "group",
    name: "bench 1000",
    member_ids: rest.map((u) => u.id),
  });
  const sentAt = new Map<string, number>();
  const received = new Map<string, number>();
  const lastAt = new Map<string, number>();
  const firstAt = new Map<string, number>();
  const senderId = owner.id;
  const onFrame: Handler = (f) => {
    if (f.type !== "message" || f.sender_id !== senderId) return;
    const n = (received.get(f.client_message_id) ?? 0) + 1;
    received.set(f.client_message_id, n);
    if (n === 1) firstAt.set(f.client_message_id, performance.now());
    if (n === 999) lastAt.set(f.client_message_id, performance.now());
  };
  const t0 = performance.now();
  const streams = await mapLimit(users, 20, (u, i) => openStream(u, room.id, i === 0 ? () => {} : onFrame));
  const ok = streams.filter((s): s is Stream => !(s instanceof Error));
  if (ok.length !== 1000)
    throw new Error(`only ${ok.length} of 1,000 streams opened: ${streams.find((s) => s instanceof Error)}`);
  console.log(`(1,000 streams open in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  await sleep(1000);
  const sender = ok[0]!;
  // warm-up, not measured
  for (let i = 0; i < 10; i++) {
    sender.ws.send(
      JSON.stringify({ type: "send", room_id: room.id, client_message_id: `warm-${cmid()}`, body: "warm-up" }),
    );
    await sleep(200);
  }
  await sleep(1000);
  const count = seconds * 5;
  measuring();
  for (let i = 0; i < count; i++) {
    const id = cmid();
    sentAt.set(id, performance.now());
    sender.ws.send(JSON.stringify({ type: "send", room_id: room.id, client_message_id: id, body: "to everyone" }));
    await sleep(200);
  }
  await sleep(2000);
  const lat = [...lastAt].filter(([id]) => sentAt.has(id)).map(([id, t]) => t - sentAt.get(id)!);
  const incomplete = count - lat.length;
  report("1,000-member room: send -> last of 999 (5/s)", lat, incomplete ? `   ${incomplete} not received by all` : "");
  // BENCH_SLOW_MS=30: when each send whose first copy took longer than that left (to line up with a trace of the edge)
  const slowMs = Number(process.env.BENCH_SLOW_MS ?? 0);
  if (slowMs > 0)
    for (const [id, t] of firstAt)
      if (sentAt.has(id) && t - sentAt.get(id)! > slowMs)
        console.log(
          `  slow: sent ${new Date(performance.timeOrigin + sentAt.get(id)!).toISOString()}, first after ${fmt(t - sentAt.get(id)!)}`,
        );
  report(
    "  (the same sends -> first of 999)",
    [...firstAt].filter(([id]) => sentAt.has(id)).map(([id, t]) => t - sentAt.get(id)!),
  );
  await mapLimit(ok, 100, async (s) => s.ws.close());
}

async function throughput() {
  // Few senders with many sends in flight: this measures the room's write path (commit per turn,
  // ack after the write), not a broadcast to hundreds of streams. Per-user limits must allow it:
  // start the edge with SEND_RATE_PER_SECOND=100000 SEND_BURST=100000 FRAME_RATE_PER_SECOND=100000 FRAME_BURST=100000.
  const SENDERS = 10;
  const WINDOW = 20;
  const users = await seed(SENDERS);
  const [owner, ...rest] = users as [User, ...User[]];
  const { room } = await api<{ room: { id: string } }>("POST", "/v1/rooms", owner.token, {
    type: "group",
    name: "bench throughput",
    member_ids: rest.map((u) => u.id),
  });
  let acked = 0;
  let refused = 0;
  let running = true;
  const streams = await mapLimit(users, 10, async (u) => {
    let inFlight = 0;
    const stream = await openStream(u, room.id, (f) => {
      if (f.type === "ack") {
        acked++;
        inFlight--;
        pump();
      } else if (f.type === "error") {
        refused++;
        inFlight--;
        setTimeout(pump, f.retry_after_ms ?? 100);
      }
    });
    const pump = () => {
      while (running && inFlight < WINDOW) {
        inFlight++;
        stream.ws.send(JSON.stringify({ type: "send", room_id: room.id, client_message_id: cmid(), body: "go" }));
      }
    };
    return { stream, pump };
  });
  const ok = streams.filter((s): s is Exclude<typeof s, Error> => !(s instanceof Error));
  await sleep(500);
  for (const s of ok) s.pump();
  await sleep(2000); // warm-up
  const a0 = acked;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = ((acked - a0) / (performance.now() - t0)) * 1000;
  running = false;
  await sleep(500);
  console.log(
    `${`one room: acked msgs/s (${SENDERS} senders × ${WINDOW} in flight)`.padEnd(44)} ${rate.toFixed(0)} msgs/s${refused ? `   (${refused} refused: raise SEND_RATE_PER_SECOND/SEND_BURST)` : ""}`,
  );
  await mapLimit(ok, 100, async (s) => s.stream.ws.close());
}

async function fresh() {
  const t0 = performance.now();
  const users = await register(200);
  const pairs: Array<[User, User]> = Array.from({ length: 100 }, (_, i) => [users[2 * i]!, users[2 * i + 1]!]);
  const rooms = await mapLimit(pairs, 10, ([a, b]) =>
    api<{ room: { id: string } }>("POST", "/v1/rooms", a.token, { type: "direct", peer_id: b.id }),
  );
  const latencies: number[] = [];
  const at: number[] = [];
  const sentAt = new Map<string, number>();
  let start = 0;
  const streams = await mapLimit(pairs, 10, async ([a, b], i) => {
    const roomId = (rooms[i] as { room: { id: string } }).room.id;
    const sa = await openStream(a, roomId, () => {});
    const sb = await openStream(b, roomId, (f) => {
      if (f.type !== "message") return;
      const t = sentAt.get(f.client_message_id);
      if (t !== undefined) {
        latencies.push(performance.now() - t);
        at.push(t - start);
      }
    });
    return { sa, sb, roomId };
  });
  const ok = streams.filter((s): s is Exclude<typeof s, Error> => !(s instanceof Error));
  if (ok.length !== 100)
    throw new Error(`only ${ok.length} pairs connected: ${streams.find((s) => s instanceof Error)}`);
  console.log(
    `(200 users registered, 100 rooms created, 200 streams open in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  start = performance.now();
  const i = await pairsAt200(ok, sentAt, start);
  await sleep(1000);
  report("fresh 1:1 send -> peer (100 new pairs, 200/s)", latencies, `   sent ${i}, received ${latencies.length}`);
  timeline(latencies, at, seconds);
  for (const p of ok) {
    p.sa.ws.close();
    p.sb.ws.close();
  }
}

async function first() {
  const users = await register(40);
  const firsts: number[] = [];
  const seconds_: number[] = [];
  for (let i = 0; i < 20; i++) {
    const [a, b] = [users[2 * i]!, users[2 * i + 1]!];
    const { room } = await api<{ room: { id: string } }>("POST", "/v1/rooms", a.token, {
      type: "direct",
      peer_id: b.id,
    });
    let arrived: ((t: number) => void) | null = null;
    const sa = await openStream(a, room.id, () => {});
    const sb = await openStream(b, room.id, (f) => f.type === "message" && arrived?.(performance.now()));
    await sleep(200);
    for (const into of [firsts, seconds_]) {
      const got = new Promise<number>((r) => (arrived = r));
      const t0 = performance.now();
      sa.ws.send(JSON.stringify({ type: "send", room_id: room.id, client_message_id: cmid(), body: "hello" }));
      into.push((await got) - t0);
      await sleep(100);
    }
    sa.ws.close();
    sb.ws.close();
  }
  report("a new room's first message -> peer", firsts);
  report("  its second message -> peer", seconds_);
}

async function steps() {
  // Open loop: sends leave on a fixed schedule whatever the room answers, so a slow room shows as
  // latency instead of silently lowering the offered rate (the closed-loop throughput scenario).
  // BENCH_STEP_SENDERS / BENCH_STEP_RECEIVERS change the room's shape (what a frame costs per socket)
  const SENDERS = Number(process.env.BENCH_STEP_SENDERS ?? 10);
  const RECEIVERS = Number(process.env.BENCH_STEP_RECEIVERS ?? 10);
  const STEP_SECONDS = Math.max(3, Math.round(seconds / 4));
  const users = await seed(SENDERS + RECEIVERS);
  const [owner, ...rest] = users as [User, ...User[]];
  const { room } = await api<{ room: { id: string } }>("POST", "/v1/rooms", owner.token, {
    type: "group",
    name: "bench steps",
    member_ids: rest.map((u) => u.id),
  });
  const sentAt = new Map<string, number>();
  let latencies: number[] = [];
  let acked = 0;
  let refused = 0;
  const onReceiver: Handler = (f) => {
    if (f.type !== "message") return;
    const t = sentAt.get(f.client_message_id);
    if (t !== undefined) latencies.push(performance.now() - t);
  };
  const onSender: Handler = (f) => {
    if (f.type === "ack") acked++;
    else if (f.type === "error") refused++;
  };
  const streams = await mapLimit(users, 10, (u, i) => openStream(u, room.id, i < SENDERS ? onSender : onReceiver));
  const ok = streams.filter((s): s is Stream => !(s instanceof Error));
  if (ok.length !== users.length) throw new Error(`only ${ok.length} streams opened`);
  const senders = ok.slice(0, SENDERS);
  await sleep(500);
  let best = 0;
  // BENCH_STEPS=500,1000,… replaces the rates tried (in order; the first that fails ends the run)
  const rates = (process.env.BENCH_STEPS ?? "500,1000,1500,2000,2750,3500,4500,6000,8000").split(",").map(Number);
  for (const rate of rates) {
    latencies = [];
    const a0 = acked;
    const interval = 1000 / rate;
    const count = rate * STEP_SECONDS;
    const t0 = performance.now();
    measuring();
    for (let i = 0; i < count; i++) {
      const wait = t0 + i * interval - performance.now();
      if (wait > 1) await sleep(wait);
      const id = cmid();
      sentAt.set(id, performance.now());
      senders[i % SENDERS]!.ws.send(
        JSON.stringify({ type: "send", room_id: room.id, client_message_id: id, body: "step" }),
      );
    }
    const offeredFor = performance.now() - t0;
    await sleep(1000);
    const ackRate = ((acked - a0) / offeredFor) * 1000;
    const s = summary(latencies);
    const held = s.p99 <= 100 && latencies.length >= count * RECEIVERS * 0.99;
    if (held) best = rate;
    console.log(
      `  ${String(rate).padStart(5)}/s offered: acked ${ackRate.toFixed(0).padStart(5)}/s, send -> receiver p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)}${held ? "" : "   (p99 > 100 ms or deliveries missing)"}${clientLoop()}`,
    );
    if (!held) break;
  }
  console.log(
    `${"one room: highest paced rate with p99 <= 100 ms".padEnd(44)} ${best} msgs/s${refused ? `   (${refused} refused: raise SEND_RATE_PER_SECOND/SEND_BURST)` : ""}`,
  );
  await mapLimit(ok, 100, async (s) => s.ws.close());
}

console.log(
  `edge ${base}; ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}; node ${process.version}; ${seconds} s per scenario`,
);
// throughput last: its closed loop leaves tens of thousands of messages for the rooms to archive,
// and that flush would share the edge's one thread with whatever ran next
if (only.has("direct")) await direct();
if (only.has("large")) await large();
if (only.has("fresh")) await fresh();
if (only.has("steps")) await steps();
if (only.has("first")) await first();
if (only.has("throughput")) await throughput();
await db.end();
