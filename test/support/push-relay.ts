// The push relay's tests: a database of their own (a dispatcher claims every due row of its
// database, so relays of other test files must not share it), rows seeded the way the Worker
// writes them, batches as a room sends them, and a recording provider that answers what a test
// tells it to.
import { randomUUID } from "node:crypto";
import http from "node:http";
import pg from "pg";
import { inject } from "vitest";
import { MemberRole, MemberStatus, PushEnvironment, PushPlatform, RoomStatus, RoomType } from "../../db/index.js";
import { migrateDatabase } from "../../db/local/index.js";
import type { PushBatchAnswer, PushMessage } from "../../protocol/index.js";
import type { Providers } from "../../push-relay/index.js";
import type { Outcome, ProviderName, PushContent, PushProvider, PushTarget } from "../../push-relay/providers/types.js";
import type { RunningRelay } from "../../push-relay/index.js";

export const RELAY_SECRET = "test-push-relay-secret-0123456789";

/** A fresh, migrated database on the test server, dropped by `drop()`. */
export async function ownDatabase(prefix: string): Promise<{ url: string; pool: pg.Pool; drop(): Promise<void> }> {
  const base = new URL(inject("databaseUrl"));
  const name = `${prefix}_${Date.now().toString(36)}_${process.pid}_${randomUUID().slice(0, 6)}`;
  const admin = new URL(base);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`create database ${pg.escapeIdentifier(name)}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  await migrateDatabase(url.toString());
  const pool = new pg.Pool({ connectionString: url.toString(), max: 3 });
  pool.on("error", () => {});
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`).catch(() => {});
      await client.end();
    },
  };
}

export async function seedUsers(pool: pg.Pool, n: number, name = (i: number) => `User ${i}`): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await pool.query(
    `insert into users (id, handle, display_name)
     select id, 'h' || replace(id::text, '-', ''), name from unnest($1::uuid[], $2::text[]) as v(id, name)`,
    [ids, ids.map((_, i) => name(i))],
  );
  return ids;
}

export interface SeedMember {
  user: string;
  muted?: boolean;
  hidden?: boolean;
  status?: number;
}

export async function seedRoom(
  pool: pg.Pool,
  o: { type?: "direct" | "group"; name?: string | null; members: SeedMember[] },
): Promise<string> {
  const id = randomUUID();
  await pool.query(`insert into chat_rooms (id, room_type, status, name, created_by) values ($1, $2, $3, $4, $5)`, [
    id,
    o.type === "direct" ? RoomType.direct : RoomType.group,
    RoomStatus.active,
    o.name ?? null,
    o.members[0]?.user ?? randomUUID(),
  ]);
  if (o.members.length)
    await pool.query(
      `insert into chat_members (room_id, user_id, role, status, muted, hidden)
       select $1, u, $2, s, m, h from unnest($3::uuid[], $4::smallint[], $5::boolean[], $6::boolean[]) as v(u, s, m, h)`,
      [
        id,
        MemberRole.member,
        o.members.map((m) => m.user),
        o.members.map((m) => m.status ?? MemberStatus.active),
        o.members.map((m) => m.muted ?? false),
        o.members.map((m) => m.hidden ?? false),
      ],
    );
  return id;
}

export async function seedDevice(
  pool: pg.Pool,
  user: string,
  platform: ProviderName,
  o: { active?: boolean; environment?: "production" | "sandbox" } = {},
): Promise<string> {
  const id = randomUUID();
  const token =
    platform === "webpush" ? `https://push.example.test/${randomUUID()}` : randomUUID().replace(/-/g, "").repeat(2);
  await pool.query(
    `insert into user_devices (id, user_id, platform, token, p256dh, auth_secret, environment, active)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      id,
      user,
      PushPlatform[platform],
      token,
      platform === "webpush" ? "BP256dh-key" : null,
      platform === "webpush" ? "auth-secret" : null,
      platform === "apns" ? PushEnvironment[o.environment ?? "production"] : null,
      o.active ?? true,
    ],
  );
  return id;
}

let seqClock = 0;
export function message(seq: number, sender: string, over: Partial<PushMessage> = {}): PushMessage {
  seqClock += 1;
  return {
    seq,
    sender_id: sender,
    preview: `message ${seq}`,
    mentions: [],
    mention_all: false,
    created_at: new Date(Date.now() + seqClock).toISOString(),
    ...over,
  };
}

export interface BatchInput {
  room: string;
  type?: "direct" | "group";
  name?: string | null;
  messages?: PushMessage[];
  audience?: { mode: "only"; user_ids: string[]; quiet: string[] } | { mode: "except"; user_ids: string[] } | null;
  reads?: Array<{ user_id: string; read_seq: number }>;
  last_seq?: number;
  batch_id?: string;
  deleted_seqs?: number[];
}

export function batch(b: BatchInput) {
  const messages = b.messages ?? [];
  return {
    batch_id: b.batch_id ?? `b-${randomUUID()}`,
    room_id: b.room,
    room_type: b.type ?? "group",
    room_name: b.name === undefined ? "The Room" : b.name,
    last_seq: b.last_seq ?? Math.max(0, ...messages.map((m) => m.seq)),
    messages,
    audience: b.audience ?? (messages.length ? { mode: "except", user_ids: [] } : null),
    reads: b.reads ?? [],
    ...(b.deleted_seqs ? { deleted_seqs: b.deleted_seqs } : {}),
  };
}

export async function post(
  relay: RunningRelay,
  body: unknown,
  o: { secret?: string | null; raw?: string } = {},
): Promise<{ status: number; body: PushBatchAnswer & { error?: { code: string; message: string } } }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const secret = o.secret === undefined ? RELAY_SECRET : o.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const res = await fetch(`${relay.url}/v1/batches`, {
    method: "POST",
    headers,
    body: o.raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as never };
}

/**
 * Posts a body the relay refuses before reading it: the answer can come while the request is still
 * being written, so the write's EPIPE/ECONNRESET after it is not a failure (fetch would report one).
 */
export function postEarlyAnswer(relay: RunningRelay, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(`${relay.url}/v1/batches`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${RELAY_SECRET}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      },
    });
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/** Polls until `check` returns something truthy (then returns it) or the time is up. */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RecordedCall {
  target: PushTarget;
  content: PushContent;
  at: number;
}

/**
 * A stand-in for our own provider interface: it records every send and answers the outcomes a
 * test queued for a device (then `fallback`, by default a plain 200).
 */
export class RecordingProvider implements PushProvider {
  readonly live = true;
  readonly calls: RecordedCall[] = [];
  private readonly queued = new Map<string, Outcome[]>();
  fallback: (target: PushTarget) => Outcome = () => ({ kind: "sent", status: 200 });
  /** how long each send takes */
  delayMs = 0;
  /** never answer (a relay that died mid-send) */
  hang = false;

  constructor(readonly name: ProviderName) {}

  answer(deviceId: string, ...outcomes: Outcome[]): void {
    this.queued.set(deviceId, [...(this.queued.get(deviceId) ?? []), ...outcomes]);
  }

  callsFor(deviceId: string): RecordedCall[] {
    return this.calls.filter((c) => c.target.device_id === deviceId);
  }

  async send(target: PushTarget, content: PushContent): Promise<Outcome> {
    this.calls.push({ target, content, at: Date.now() });
    if (this.hang) return new Promise<never>(() => {});
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.queued.get(target.device_id)?.shift() ?? this.fallback(target);
  }

  async close(): Promise<void> {}
}

export function recordingProviders(): Providers & Record<ProviderName, RecordingProvider> {
  return {
    apns: new RecordingProvider("apns"),
    fcm: new RecordingProvider("fcm"),
    webpush: new RecordingProvider("webpush"),
  };
}

/** A counter's or gauge's value in the relay's registry (0 when the label set was never touched). */
export async function metricValue(relay: RunningRelay, name: string, labels: Record<string, string> = {}) {
  const metric = relay.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
