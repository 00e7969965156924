// Push notifications through the public path, on a stack of its own (so no `npm start` relay
// competes for the rows): a fresh database on the local PostgreSQL, a Miniflare edge over it, the
// push relay in this process with its live Web Push provider, and a local Web Push service that
// checks VAPID and decrypts every payload (test/support/push-standins/webpush.ts). Users register
// with POST /v1/auth/register, subscribe with POST /v1/devices (a browser's PushSubscription),
// rooms come from POST /v1/rooms, messages go over a stream. Nobody but the sender is online.
//   npx tsx bench/push.ts [--pairs 50] [--messages 5] [--members 1000] [--group-messages 5]
// (BENCH_RELAY_LOG=1 also prints the relay's log; a pair whose push never came is named)
// Reports, from the message's ack to the push service receiving the encrypted request:
//   direct: one offline peer per room, `--pairs` rooms, each sending `--messages` a few seconds apart
//   group:  one room of `--members`, all offline: ack -> first and last of members-1 pushes, and
//           the relay's rate (pushes/s) for that fan-out
import { randomUUID } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import webpush from "web-push";
import WebSocket from "ws";
import { migrateDatabase, startWsProxy, withDatabase } from "../db/local/index.js";
import { mapLimit } from "../lib/parallel/index.js";
import type { AuthResponse, RoomResponse, ServerFrame, TicketResponse } from "../protocol/index.js";
import { startRelay } from "../push-relay/index.js";
import { providersFromEnv } from "../push-relay/providers/index.js";
import { newSigningJwk } from "../test/support/keys.js";
import { bundleWorker, startEdge } from "../test/support/miniflare.js";
import { testTls } from "../test/support/push-standins/tls.js";
import { WebPushStandIn } from "../test/support/push-standins/webpush.js";
import { fmt, summary } from "./stats.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "50" },
    messages: { type: "string", default: "5" },
    members: { type: "string", default: "1000" },
    "group-messages": { type: "string", default: "3" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_PG_ADMIN ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const PAIRS = Number(values.pairs);
const MESSAGES = Number(values.messages);
const MEMBERS = Number(values.members);
const GROUP_MESSAGES = Number(values["group-messages"]);
const root = path.resolve(import.meta.dirname, "..");
const SECRET = randomUUID();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dbName = `bench_push_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: values["admin-url"] });
await admin.connect();
await admin.query(`create database ${dbName}`);
const databaseUrl = withDatabase(values["admin-url"]!, dbName);
await migrateDatabase(databaseUrl);
const proxy = await startWsProxy();

const tls = await testTls();
const browsers = await WebPushStandIn.start(tls);
const vapid = webpush.generateVAPIDKeys();
const providers = providersFromEnv(
  {
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: "mailto:bench@localhost",
    WEBPUSH_ALLOW_ORIGINS: browsers.origin,
  },
  () => {},
  { ca: tls.ca },
);
const relayLog: string[] = [];
const relay = await startRelay({
  secret: SECRET,
  databaseUrl,
  providers,
  port: 0,
  poolMax: 5,
  log: (l) => void relayLog.push(l),
});
const edge = await startEdge({
  script: bundleWorker(path.join(root, ".data", "bench-push-bundle")),
  bindings: {
    DATABASE_URL: databaseUrl,
    NEON_WS_PROXY: proxy.endpoint,
    JWT_PRIVATE_JWK: await newSigningJwk(),
    REFRESH_TOKEN_SECRET: randomUUID() + randomUUID(),
    PUSH_RELAY_URL: relay.url,
    PUSH_RELAY_SECRET: SECRET,
    WEBPUSH_ALLOW_ORIGINS: browsers.origin,
    PASSWORD_SCRYPT_LOG_N: "10",
    ...Object.fromEntries(
      ["REGISTER", "TICKET", "ROOM_CREATE", "MEMBER_ADD"].flatMap((n) => [
        [`${n}_RATE_PER_MINUTE`, "1000000"],
        [`${n}_BURST`, "1000000"],
      ]),
    ),
    SEND_RATE_PER_SECOND: "100000",
    SEND_BURST: "100000",
  },
});

async function api<T>(method: string, route: string, token?: string, body?: unknown): Promise<T> {
  const res = await fetch(`${edge.url}/v1${route}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? null : await res.json()) as T;
}

interface User {
  id: string;
  token: string;
  endpoint: string;
}
async function newUser(i: number): Promise<User> {
  const a = await api<AuthResponse>("POST", "/auth/register", undefined, {
    handle: `b${Date.now().toString(36)}${i}`,
    password: "bench password 123",
    display_name: `Bench ${i}`,
  });
  const sub = browsers.subscribe({ applicationServerKey: vapid.publicKey });
  await api("POST", "/devices", a.access_token, { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys });
  return { id: a.user.id, token: a.access_token, endpoint: sub.endpoint };
}

async function stream(user: User, roomId: string): Promise<WebSocket> {
  const t = await api<TicketResponse>("POST", "/connect/ticket", user.token, { device_id: "bench", room_id: roomId });
  const ws = new WebSocket(`${edge.url.replace("http", "ws")}/v1/rooms/${roomId}/stream?ticket=${t.ticket}`);
  await new Promise<void>((resolve, reject) => {
    ws.on("message", (d) => (JSON.parse(String(d)) as ServerFrame).type === "synced" && resolve());
    ws.once("error", reject);
  });
  return ws;
}

/** Sends one message; resolves with its seq and the time its ack arrived. */
function send(ws: WebSocket, roomId: string, body: string): Promise<{ seq: number; ackAt: number }> {
  const cmid = randomUUID();
  return new Promise((resolve) => {
    const on = (d: WebSocket.RawData) => {
      const f = JSON.parse(String(d)) as ServerFrame;
      if (f.type === "ack" && f.client_message_id === cmid) {
        ws.off("message", on);
        resolve({ seq: f.seq, ackAt: Date.now() });
      }
    };
    ws.on("message", on);
    ws.send(JSON.stringify({ type: "send", room_id: roomId, client_message_id: cmid, body }));
  });
}

// every push the service took, by endpoint and seq, indexed once as records arrive (a scan per
// waiter would make the bench itself quadratic in the room's size)
const delivered = new Map<string, number>();
let indexed = 0;
function indexRecords(): void {
  for (; indexed < browsers.records.length; indexed++) {
    const r = browsers.records[indexed]!;
    if (r.status !== 201) continue;
    const { room_id, seq } = JSON.parse(r.plaintext) as { room_id: string; seq: number };
    delivered.set(`${r.id}|${room_id}|${seq}`, r.at);
  }
}

/** When `endpoint` got the push for `seq` (waits up to 60 s). */
async function pushedAt(endpoint: string, roomId: string, seq: number): Promise<number> {
  const key = `${endpoint.slice(endpoint.lastIndexOf("/") + 1)}|${roomId}|${seq}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    indexRecords();
    const at = delivered.get(key);
    if (at !== undefined) return at;
    if (Date.now() > deadline) throw new Error(`no push for ${roomId} seq ${seq}`);
    await sleep(20);
  }
}

const line = (what: string, s: ReturnType<typeof summary>) =>
  console.log(`${what}: n=${s.n} p50 ${fmt(s.p50)} p95 ${fmt(s.p95)} p99 ${fmt(s.p99)} max ${fmt(s.max)}`);

try {
  // direct rooms, one offline peer each: ack -> push
  const people = await mapLimit(
    Array.from({ length: PAIRS * 2 }, (_, i) => i),
    16,
    newUser,
  );
  const pairs = people.filter((p): p is User => !(p instanceof Error));
  const direct: number[] = [];
  const directRuns = await mapLimit(
    Array.from({ length: PAIRS }, (_, i) => i),
    PAIRS,
    async (i) => {
      const [a, b] = [pairs[2 * i]!, pairs[2 * i + 1]!];
      const { room } = await api<RoomResponse>("POST", "/rooms", a.token, { type: "direct", peer_id: b.id });
      const ws = await stream(a, room.id);
      for (let m = 0; m < MESSAGES; m++) {
        // a few seconds apart: each message is its own banner, not collapsed into the previous one
        await sleep(1_500 + Math.random() * 1_000);
        const { seq, ackAt } = await send(ws, room.id, `hello ${m}`);
        direct.push((await pushedAt(b.endpoint, room.id, seq)) - ackAt);
      }
      ws.close();
    },
  );
  line(`direct, ack -> push at the Web Push service (${PAIRS} rooms × ${MESSAGES})`, summary(direct));
  // a pair that failed (a refused request, a push that never came) says so instead of shrinking n
  for (const r of directRuns) if (r instanceof Error) console.log(`  a pair failed: ${r.message}`);
  if (process.env.BENCH_RELAY_LOG === "1") for (const l of relayLog) console.log(`  relay: ${l}`);
  if (pairs.length < PAIRS * 2) console.log(`  ${PAIRS * 2 - pairs.length} of ${PAIRS * 2} registrations failed`);

  // one big group, everyone offline
  const crowd = (
    await mapLimit(
      Array.from({ length: MEMBERS }, (_, i) => 10_000 + i),
      16,
      newUser,
    )
  ).filter((p): p is User => !(p instanceof Error));
  const [owner, ...rest] = crowd as [User, ...User[]];
  const { room } = await api<RoomResponse>("POST", "/rooms", owner.token, {
    type: "group",
    name: "bench crowd",
    member_ids: rest.map((u) => u.id),
  });
  const ws = await stream(owner, room.id);
  const first: number[] = [];
  const last: number[] = [];
  const rates: number[] = [];
  for (let m = 0; m < GROUP_MESSAGES; m++) {
    await sleep(3_000);
    const { seq, ackAt } = await send(ws, room.id, `to everyone ${m}`);
    const times = await mapLimit(rest, 50, (u) => pushedAt(u.endpoint, room.id, seq));
    const at = times.filter((t): t is number => typeof t === "number").sort((x, y) => x - y);
    first.push(at[0]! - ackAt);
    last.push(at.at(-1)! - ackAt);
    rates.push((at.length / Math.max(1, at.at(-1)! - at[0]!)) * 1000);
  }
  ws.close();
  line(`group of ${MEMBERS}, ack -> first push`, summary(first));
  line(`group of ${MEMBERS}, ack -> last push`, summary(last));
  console.log(`group fan-out: ${rates.map((r) => `${Math.round(r)}`).join(", ")} pushes/s (first to last)`);
} finally {
  await edge.close();
  await relay.stop();
  await providers.webpush.close();
  await browsers.close();
  await proxy.close();
  await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await admin.end();
}
