// The public path of a big group, end to end, exactly as a new client takes it (issue 9, item 1):
//   1. register N users with POST /v1/auth/register (bounded concurrency, real password hashing)
//   2. the first creates a group with POST /v1/rooms {type:"group", member_ids:[the others]}
//   3. every member takes POST /v1/connect/ticket {device_id, room_id} and opens
//      /v1/rooms/:id/stream?ticket=…&after_seq=0, `--connect-concurrency` at a time, until `synced`
//   4. the first member sends at `--rate` msgs/s for `--seconds`: send -> first and last of N-1
// Nothing is seeded: no database access, no signing key, only the base URL. Every HTTP answer is
// counted by route and status; any 5xx (or a member who never synced) fails the run (exit 1).
//   npx tsx bench/public-path.ts --base http://127.0.0.1:8788 --members 1000
// Registration pays the scrypt cost of PASSWORD_SCRYPT_LOG_N, and one sender at a few msgs/s
// stays under the default send limit; lift both for big runs, e.g.
//   PASSWORD_SCRYPT_LOG_N=10 SEND_RATE_PER_SECOND=100000 SEND_BURST=100000 npm start
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { mapLimit } from "../lib/parallel/index.js";
import { unpackFrames } from "../protocol/batch.js";
import type {
  AuthResponse,
  RegisterBody,
  RoomClientFrame,
  RoomResponse,
  ServerFrame,
  TicketResponse,
} from "../protocol/index.js";
import { fmt, summary } from "./stats.js";

export interface PublicPathOptions {
  base: string;
  members: number;
  seconds: number;
  /** messages per second from the one sender */
  rate: number;
  registerConcurrency: number;
  connectConcurrency: number;
  /** pause between creating the group and connecting (0: at once, as a client would) */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface PublicPathResult {
  registration_ms: number;
  create_group_ms: number;
  connect_ms: number;
  /** per member: ticket request to `synced` */
  member_connect: ReturnType<typeof summary>;
  /** of that: the ticket request, and the upgrade until `synced` */
  ticket: ReturnType<typeof summary>;
  open: ReturnType<typeof summary>;
  last_of: ReturnType<typeof summary>;
  first_of: ReturnType<typeof summary>;
  sent: number;
  incomplete: number;
  /** "POST /v1/auth/register 201" -> count */
  statuses: Record<string, number>;
  failures: string[];
}

interface Member {
  id: string;
  token: string;
}

class Http {
  readonly statuses: Record<string, number> = {};
  /** when and how each 5xx or unanswered request went (the first few go into the result) */
  readonly errors: string[] = [];
  readonly started = performance.now();
  constructor(private readonly base: string) {}

  /** One request; its answer's status is counted under the route's name (ids folded). */
  async call<T>(
    route: string,
    method: string,
    path: string,
    body: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    let status: number;
    let text = "";
    let cause = "";
    const sentAt = performance.now();
    try {
      const res = await fetch(this.base + path, { method, headers, body: JSON.stringify(body) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      status = 0; // no answer at all: counted, and a failure like a 5xx
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      cause = ` (${c?.code ?? c?.message ?? "no cause"})`;
      text = `${String(err)}${cause}`;
    }
    if (status === 0 || status >= 500) {
      const at = ((sentAt - this.started) / 1000).toFixed(1);
      this.errors.push(
        `${method} ${path} → ${status}${cause} sent at +${at} s, after ${fmt(performance.now() - sentAt)}`,
      );
    }
    const key = `${method} ${route} ${status}${cause}`;
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep the text for the error */
    }
    if (status < 200 || status >= 300) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 200)}`);
    return { status, body: parsed as T };
  }
}

type Stream = { ws: WebSocket; synced: Promise<void> };

function openStream(base: string, roomId: string, ticket: string, onFrame: (f: ServerFrame) => void): Stream {
  // No permessage-deflate offer and no UTF-8 checks: one process plays every client here (see bench/realtime.ts).
  const ws = new WebSocket(
    `${base.replace(/^http/, "ws")}/v1/rooms/${roomId}/stream?ticket=${ticket}&after_seq=0&batch=1`,
    {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    },
  );
  const synced = new Promise<void>((resolve, reject) => {
    ws.once("error", reject);
    ws.once("unexpected-response", (_q, r) => reject(new Error(`upgrade answered ${r.statusCode}`)));
    ws.once("close", (code) => reject(new Error(`closed (${code}) before synced`)));
    ws.on("message", (data) => {
      // batch=1, as the SDK: a replay or a busy commit comes as arrays of frames
      for (const f of unpackFrames(data.toString()) as ServerFrame[]) {
        if (f.type === "synced") resolve();
        onFrame(f);
      }
    });
  });
  const ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), 25_000);
  ws.once("close", () => clearInterval(ping));
  return { ws, synced };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failed = (s: Record<string, number>) =>
  Object.entries(s).filter(([k]) => {
    const code = Number(/ (\d+)(?: \(.*\))?$/.exec(k)?.[1]);
    return code === 0 || code >= 500;
  });

export async function runPublicPath(o: PublicPathOptions): Promise<PublicPathResult> {
  const log = o.log ?? (() => {});
  const http = new Http(o.base);
  const failures: string[] = [];
  const tag = `${Date.now().toString(36)}${process.pid.toString(36)}`;

  // 1. registration
  let t = performance.now();
  const registered = await mapLimit(
    Array.from({ length: o.members }, (_, i) => i),
    o.registerConcurrency,
    async (i) => {
      const body: RegisterBody = { handle: `pp${tag}_${i}`, password: "bench password 1", display_name: `Bench ${i}` };
      const { body: a } = await http.call<AuthResponse>("/v1/auth/register", "POST", "/v1/auth/register", body);
      return { id: a.user.id, token: a.access_token } satisfies Member;
    },
  );
  const registration_ms = performance.now() - t;
  const members = registered.filter((m): m is Member => !(m instanceof Error));
  if (members.length !== o.members) {
    failures.push(`${o.members - members.length} registrations failed: ${registered.find((m) => m instanceof Error)}`);
  }
  log(`registered ${members.length} users in ${(registration_ms / 1000).toFixed(1)} s`);
  if (members.length < 2) throw new Error(failures.join("; ") || "need at least two members");

  // 2. the group
  const [owner, ...rest] = members as [Member, ...Member[]];
  t = performance.now();
  const { body: created } = await http.call<RoomResponse>(
    "/v1/rooms",
    "POST",
    "/v1/rooms",
    {
      type: "group",
      name: `public path ${tag}`,
      member_ids: rest.map((m) => m.id),
    },
    owner.token,
  );
  const create_group_ms = performance.now() - t;
  const roomId = created.room.id;
  log(`group of ${members.length} created in ${fmt(create_group_ms)}`);
  if (o.settleMs) await sleep(o.settleMs);

  // 3. every member connects: ticket, stream from after_seq=0, synced
  const sentAt = new Map<string, number>();
  const received = new Map<string, number>();
  const firstAt = new Map<string, number>();
  const lastAt = new Map<string, number>();
  // every member but the sender; fewer if some never connected (the run fails, but still measures)
  let recipients = members.length - 1;
  const onFrame = (f: ServerFrame) => {
    if (f.type !== "message" || f.sender_id !== owner.id) return;
    const n = (received.get(f.client_message_id) ?? 0) + 1;
    received.set(f.client_message_id, n);
    if (n === 1) firstAt.set(f.client_message_id, performance.now());
    if (n === recipients) lastAt.set(f.client_message_id, performance.now());
  };
  const perMember: number[] = [];
  const ticketTimes: number[] = [];
  const openTimes: number[] = [];
  t = performance.now();
  const streams = await mapLimit(members, o.connectConcurrency, async (m, i) => {
    const started = performance.now();
    const { body: tk } = await http.call<TicketResponse>(
      "/v1/connect/ticket",
      "POST",
      "/v1/connect/ticket",
      {
        device_id: `bench-${i}`,
        room_id: roomId,
      },
      m.token,
    );
    const ticketed = performance.now();
    ticketTimes.push(ticketed - started);
    const s = openStream(o.base, roomId, tk.ticket, i === 0 ? () => {} : onFrame);
    await s.synced;
    openTimes.push(performance.now() - ticketed);
    perMember.push(performance.now() - started);
    if (perMember.length % 100 === 0)
      log(`  ${perMember.length} synced at +${((performance.now() - t) / 1000).toFixed(1)} s`);
    return s;
  });
  const connect_ms = performance.now() - t;
  const open = streams.filter((s): s is Stream => !(s instanceof Error));
  if (open.length !== members.length) {
    failures.push(`${members.length - open.length} members never synced: ${streams.find((s) => s instanceof Error)}`);
  }
  log(`${open.length} of ${members.length} streams synced in ${(connect_ms / 1000).toFixed(1)} s`);

  // 4. the sender's messages to everyone
  let sent = 0;
  if (open.length > 1 && !(streams[0] instanceof Error)) {
    recipients = open.length - 1;
    const sender = (streams[0] as Stream).ws;
    const send = (id: string) => {
      const frame: RoomClientFrame = { type: "send", room_id: roomId, client_message_id: id, body: "to everyone" };
      sender.send(JSON.stringify(frame));
    };
    // warm-up, not measured: the broadcast path's first turns
    for (let i = 0; i < 10; i++) {
      send(`warm-${tag}-${i}`);
      await sleep(200);
    }
    await sleep(1000);
    const count = Math.max(1, Math.round(o.seconds * o.rate));
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const wait = start + (i * 1000) / o.rate - performance.now();
      if (wait > 1) await sleep(wait);
      const id = `m-${tag}-${i}`;
      sentAt.set(id, performance.now());
      send(id);
      sent++;
    }
    await sleep(3000);
  }
  const since = (m: Map<string, number>) =>
    [...m].filter(([id]) => sentAt.has(id)).map(([id, at]) => at - sentAt.get(id)!);
  const lastOf = since(lastAt);
  const incomplete = sent - lastOf.length;
  if (incomplete) failures.push(`${incomplete} of ${sent} messages did not reach all ${recipients} recipients`);
  for (const [k, n] of failed(http.statuses)) failures.push(`${n} × ${k}`);
  failures.push(...http.errors.slice(0, 5));
  await mapLimit(open, 100, async (s) => s.ws.close());
  return {
    registration_ms,
    create_group_ms,
    connect_ms,
    member_connect: summary(perMember),
    ticket: summary(ticketTimes),
    open: summary(openTimes),
    last_of: summary(lastOf),
    first_of: summary(since(firstAt)),
    sent,
    incomplete,
    statuses: http.statuses,
    failures,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      base: { type: "string", default: "http://127.0.0.1:8787" },
      members: { type: "string", default: "1000" },
      seconds: { type: "string", default: "20" },
      rate: { type: "string", default: "5" },
      "register-concurrency": { type: "string", default: "20" },
      "connect-concurrency": { type: "string", default: "50" },
      "settle-ms": { type: "string", default: "0" },
      json: { type: "boolean", default: false },
    },
  });
  const num = (name: keyof typeof values, min: number) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const r = await runPublicPath({
    base: values.base!.replace(/\/$/, ""),
    members: num("members", 2),
    seconds: num("seconds", 1),
    rate: num("rate", 0.1),
    registerConcurrency: num("register-concurrency", 1),
    connectConcurrency: num("connect-concurrency", 1),
    settleMs: num("settle-ms", 0),
    log: (l) => console.log(`(${l})`),
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    const n = Number(values.members);
    const row = (name: string, s: ReturnType<typeof summary>) =>
      console.log(
        `${name.padEnd(40)} n=${String(s.n).padEnd(6)} p50 ${fmt(s.p50).padEnd(10)} p99 ${fmt(s.p99).padEnd(10)} max ${fmt(s.max)}`,
      );
    console.log(`registration of ${n} users          ${(r.registration_ms / 1000).toFixed(1)} s`);
    console.log(`group creation (${n} members)        ${fmt(r.create_group_ms)}`);
    console.log(`connect: all ${n} members synced    ${(r.connect_ms / 1000).toFixed(1)} s`);
    row("  per member: ticket -> synced", r.member_connect);
    row("    of that, POST /v1/connect/ticket", r.ticket);
    row("    of that, upgrade -> synced", r.open);
    row(`send -> last of ${n - 1} (${values.rate}/s)`, r.last_of);
    row(`send -> first of ${n - 1}`, r.first_of);
    console.log("status codes:");
    for (const [k, c] of Object.entries(r.statuses).sort()) console.log(`  ${k.padEnd(36)} ${c}`);
  }
  if (r.failures.length) {
    console.error(`FAILED:\n  ${r.failures.join("\n  ")}`);
    process.exit(1);
  }
  process.exit(0);
}
