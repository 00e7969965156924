// How long a user's first session socket takes to subscribe to their rooms (bounded parallelism,
// 16 at once; bounded in count by SESSION_SUBSCRIBE_MAX_ROOMS, `--bound`, the most recently active
// first), cold (objects not in memory: a fresh runtime over persisted state) and warm. Needs
// `npm start` running (its database and keys); runs its own Miniflare edge.
//   npx tsx bench/session-subscribe.ts [--rooms 500] [--bound 200]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import WebSocket from "ws";
import { mapLimit } from "../lib/parallel/index.js";
import { accessToken } from "../test/support/tokens.js";
import { readEdgeEnv } from "./edge-env.js";
import { startBenchEdge } from "./miniflare-edge.js";

const { values } = parseArgs({
  options: {
    rooms: { type: "string", default: "500" },
    bound: { type: "string", default: "200" },
    port: { type: "string", default: "8789" },
  },
});
const rooms = Number(values.rooms);
const bound = Number(values.bound);
const expected = Math.min(rooms, bound);
const vars = { SESSION_SUBSCRIBE_MAX_ROOMS: String(bound) };
const port = Number(values.port);
const base = `http://127.0.0.1:${port}`;
const env = readEdgeEnv();
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
const persist = fs.mkdtempSync(path.join(os.tmpdir(), "edge-chat-sub-"));

const tag = Date.now().toString(36);
const { rows } = await db.query<{ id: string; handle: string }>(
  `insert into users (handle, display_name) select h, h from unnest($1::text[]) as h returning id, handle`,
  [[`s${tag}_me`, `s${tag}_peer`]],
);
const [me, peer] = rows as [{ id: string; handle: string }, { id: string; handle: string }];
const token = await accessToken(env.JWT_PRIVATE_JWK!, me, 3600);
const api = async (method: string, p: string, body?: unknown) => {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>;
};

let edge = await startBenchEdge({ port, persist, vars });
await mapLimit(
  Array.from({ length: rooms }, (_, i) => i),
  8,
  (i) => api("POST", "/v1/rooms", { type: "group", name: `room ${i}`, member_ids: [peer.id] }),
);

async function connectAndWait(): Promise<number> {
  const { ticket } = await api("POST", "/v1/connect/ticket", { device_id: "bench" });
  const ns = await edge.mf.getDurableObjectNamespace("USER_SESSION");
  const session = ns.get(ns.idFromName(me.id)) as unknown as {
    inspect(): Promise<{ subscribed: string[]; online: boolean }>;
  };
  const t0 = performance.now();
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/connect?ticket=${ticket}`);
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  for (;;) {
    const s = await session.inspect();
    if (s.subscribed.length >= expected) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  ws.close();
  await new Promise((r) => setTimeout(r, 1000)); // the last close unsubscribes
  return ms;
}

console.log(
  `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}; node ${process.version}; ${rooms} rooms, first ${expected} subscribed, 16 in flight`,
);
await edge.close();
edge = await startBenchEdge({ port, persist, vars });
console.log(`first socket, cold objects:  ${expected} rooms subscribed in ${(await connectAndWait()).toFixed(0)} ms`);
console.log(`first socket, warm objects:  ${expected} rooms subscribed in ${(await connectAndWait()).toFixed(0)} ms`);
await edge.close();
await db.end();
fs.rmSync(persist, { recursive: true, force: true });
