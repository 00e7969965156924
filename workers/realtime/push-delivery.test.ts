// Push notifications end to end, every part real but Apple's, Google's and a browser vendor's push
// services: rooms on a real edge hand their batches to the real push relay (push-relay/main.ts, a
// supervised child process as `npm start` runs it, over the test PostgreSQL), whose live providers
// talk TLS to local stand-ins that check what the real services check (JWT signatures, topics,
// the FCM v1 shape, VAPID and aes128gcm). The stand-ins' CA reaches the relay the production way,
// through NODE_EXTRA_CA_CERTS. Devices register through POST /v1/devices.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Supervisor } from "../../scripts/supervisor.js";
import { call, closeDb, db } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { freePort } from "../../test/support/ports.js";
import { ApnsStandIn, apnsDeviceToken } from "../../test/support/push-standins/apns.js";
import { FcmStandIn, fcmRegistrationToken } from "../../test/support/push-standins/fcm.js";
import { testTls } from "../../test/support/push-standins/tls.js";
import { WebPushStandIn, type BrowserSubscription } from "../../test/support/push-standins/webpush.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";
import { eventually, openSession, openStream, sleep, type TestSocket } from "../../test/support/sockets.js";

const SECRET = "push-delivery-test-secret-0123456789";
const TEAM = "TEAM123456";
const TOPIC = "com.example.chat";
const PROJECT = "edge-chat-e2e";
const root = path.resolve(import.meta.dirname, "../..");

let apple: ApnsStandIn;
let google: FcmStandIn;
let browsers: WebPushStandIn;
let relay: Supervisor;
let relayEnv: Record<string, string | undefined>;
let relayUrl: string;
let edge: Edge;
let dir: string;
const vapid = webpush.generateVAPIDKeys();
const relayLines: string[] = [];

function superviseRelay(): Supervisor {
  return new Supervisor({
    name: "relay",
    command: process.execPath,
    args: ["--import", "tsx", path.join(root, "push-relay/main.ts")],
    cwd: root,
    env: relayEnv,
    healthUrl: `${relayUrl}/healthz`,
    backoff: { initialMs: 300 },
    stopGraceMs: 5_000,
    log: (l) => relayLines.push(l),
    output: (l) => relayLines.push(l),
  });
}

beforeAll(async () => {
  const tls = await testTls();
  [apple, google, browsers] = await Promise.all([
    ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC }),
    FcmStandIn.start({ tls, projectId: PROJECT }),
    WebPushStandIn.start(tls),
  ]);
  const key = await apple.newKey();
  const account = await google.makeServiceAccount();
  dir = mkdtempSync(path.join(tmpdir(), "push-e2e-"));
  const caFile = path.join(dir, "stand-ins-ca.pem");
  writeFileSync(caFile, tls.ca);
  const port = await freePort();
  relayUrl = `http://127.0.0.1:${port}`;
  relayEnv = {
    ...process.env,
    DATABASE_URL: inject("databaseUrl"),
    PUSH_RELAY_SECRET: SECRET,
    PUSH_RELAY_HOST: "127.0.0.1",
    PUSH_RELAY_PORT: String(port),
    PUSH_DISPATCH_POLL_MS: "200",
    PUSH_RETRY_BASE_MS: "300",
    APNS_KEY_P8: key.p8,
    APNS_KEY_ID: key.keyId,
    APNS_TEAM_ID: TEAM,
    APNS_TOPIC: TOPIC,
    APNS_PRODUCTION_URL: apple.url,
    APNS_SANDBOX_URL: apple.url,
    FCM_SERVICE_ACCOUNT_JSON: JSON.stringify(account),
    FCM_API_URL: google.url,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: "mailto:ops@chat.example.org",
    WEBPUSH_ALLOW_ORIGINS: browsers.origin,
    NODE_EXTRA_CA_CERTS: caFile,
  };
  relay = superviseRelay();
  await relay.waitHealthy(60_000);
  edge = await startEdge(
    testEdgeOptions({
      PUSH_RELAY_URL: relayUrl,
      PUSH_RELAY_SECRET: SECRET,
      PUSH_RETRY_MAX_SECONDS: "1",
      WEBPUSH_ALLOW_ORIGINS: browsers.origin,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      SEND_BURST: "5000",
      SEND_RATE_PER_SECOND: "5000",
      FRAME_BURST: "5000",
      FRAME_RATE_PER_SECOND: "5000",
    }),
  );
}, 120_000);

afterAll(async () => {
  // the relay's own account of the run, for a failure seen only in a loaded full run
  mkdirSync(path.join(root, ".artifacts"), { recursive: true });
  writeFileSync(path.join(root, ".artifacts/push-delivery-relay.log"), relayLines.join("\n"));
  await edge?.close();
  await relay?.stop();
  await Promise.all([apple?.close(), google?.close(), browsers?.close()]);
  await closeDb();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Phone {
  apns: string;
  fcm: string;
  web: BrowserSubscription;
}

async function register(user: Seeded, body: Record<string, unknown>): Promise<void> {
  const res = await call(edge, "POST", "/v1/devices", { token: user.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** One device of each kind for `user`, registered as the apps would. */
async function devices(user: Seeded, kinds: Array<keyof Phone> = ["apns", "fcm", "web"]): Promise<Phone> {
  const phone: Phone = {
    apns: apnsDeviceToken(),
    fcm: fcmRegistrationToken(),
    web: browsers.subscribe({ applicationServerKey: vapid.publicKey }),
  };
  if (kinds.includes("apns")) await register(user, { platform: "apns", token: phone.apns, device_id: "iphone" });
  if (kinds.includes("fcm")) await register(user, { platform: "fcm", token: phone.fcm, device_id: "pixel" });
  // what a browser's PushSubscription.toJSON() gives
  if (kinds.includes("web"))
    await register(user, { endpoint: phone.web.endpoint, expirationTime: null, keys: phone.web.keys });
  return phone;
}

const toApple = (token: string, ok = true) =>
  apple.records.filter((r) => r.token === token && (!ok || r.status === 200));
const toGoogle = (token: string) => google.records.filter((r) => r.token === token && r.status === 200);
const toBrowser = (sub: BrowserSubscription) => browsers.recordsFor(sub.endpoint).filter((r) => r.status === 201);

let n = 0;
async function send(s: TestSocket, roomId: string, body: string, extra: Record<string, unknown> = {}) {
  const cmid = `e2e-${++n}`;
  s.send({ type: "send", room_id: roomId, client_message_id: cmid, body, ...extra });
  return s.take((f) => f.type === "ack" && f.client_message_id === cmid, 15_000);
}

const notifications = async (userId: string, roomId: string) =>
  (
    await db().query(
      `select seq, count, status, sent_at, read_at from push_notifications where user_id = $1 and room_id = $2 order by created_at`,
      [userId, roomId],
    )
  ).rows as Array<{ seq: string; count: number; status: number; sent_at: Date | null; read_at: Date | null }>;

describe("push notifications through the relay", () => {
  it("tells an offline member once on each device, with the room, preview and badge; an online member nothing", async () => {
    const [sender, away, here] = (await people(3)) as [Seeded, Seeded, Seeded];
    const phone = await devices(away);
    const herePhone = await devices(here, ["apns"]);
    const room = await group(edge, sender, [away, here], "Weekend plans");
    const online = await openSession(edge, here);
    const s = await openStream(edge, sender, room.id);
    const ack = await send(s, room.id, "Hike on Saturday? 🏔️");

    await eventually(
      async () =>
        toApple(phone.apns).length === 1 && toGoogle(phone.fcm).length === 1 && toBrowser(phone.web).length === 1,
      20_000,
      100,
    );
    const aps = toApple(phone.apns)[0]!.payload as { aps: { alert: { title: string; body: string }; badge: number } };
    expect(aps.aps.alert).toEqual({ title: "Weekend plans", body: expect.stringContaining("Hike on Saturday? 🏔️") });
    expect(aps.aps.badge).toBe(1);
    const fcm = toGoogle(phone.fcm)[0]!.message as { notification: { title: string; body: string } };
    expect(fcm.notification.body).toContain("Hike on Saturday?");
    const web = JSON.parse(toBrowser(phone.web)[0]!.plaintext) as Record<string, unknown>;
    expect(JSON.stringify(web)).toContain("Hike on Saturday?");
    expect(web).toMatchObject({ room_id: room.id, seq: ack.seq });

    // the member with a session socket was told through it, never through a push service
    await sleep(1_500);
    expect(apple.records.filter((r) => r.token === herePhone.apns)).toEqual([]);
    expect(toApple(phone.apns)).toHaveLength(1);
    const rows = await notifications(away.id, room.id);
    expect(rows).toMatchObject([{ seq: String(ack.seq), count: 1, status: 2 }]);

    // reading the room marks the notification read
    const reader = await openStream(edge, away, room.id, { device: "iphone" });
    reader.send({ type: "read", room_id: room.id, seq: ack.seq });
    await eventually(async () => (await notifications(away.id, room.id))[0]?.read_at != null, 15_000, 100);
    await Promise.all([s.close(), reader.close(), online.close()]);
  });

  it("tells a member who muted the room only of messages that mention them", async () => {
    const [sender, quiet] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(quiet, ["fcm"]);
    const room = await group(edge, sender, [quiet], "Noisy group");
    const muted = await call(edge, "PATCH", `/v1/rooms/${room.id}/me`, { token: quiet.token, body: { muted: true } });
    expect(muted.status).toBe(200);
    const s = await openStream(edge, sender, room.id);
    await send(s, room.id, "nothing for you");
    await sleep(2_500);
    expect(toGoogle(phone.fcm)).toEqual([]);
    const ack = await send(s, room.id, "but this is", { mentions: [quiet.id] });
    await eventually(async () => toGoogle(phone.fcm).length === 1, 20_000, 100);
    expect((toGoogle(phone.fcm)[0]!.message as { data: Record<string, string> }).data).toMatchObject({
      room_id: room.id,
      seq: String(ack.seq),
    });
    await s.close();
  });

  it("retires a token the provider calls unregistered (410), and skips it from then on", async () => {
    const [sender, owner] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(owner, ["apns", "fcm"]);
    apple.program(phone.apns, { status: 410, reason: "Unregistered" });
    const room = await group(edge, sender, [owner]);
    const s = await openStream(edge, sender, room.id);
    await send(s, room.id, "one");
    // what was told, not how fast: this first push took over 20 s once in a loaded full run
    await eventually(async () => toApple(phone.apns, false).length === 1 && toGoogle(phone.fcm).length === 1, 40_000);
    const device = async () =>
      (await db().query(`select active, retired_reason from user_devices where token = $1`, [phone.apns])).rows[0] as {
        active: boolean;
        retired_reason: string | null;
      };
    await eventually(async () => (await device()).active === false, 10_000);
    expect((await device()).retired_reason).toMatch(/unregistered/i);

    await send(s, room.id, "two");
    await eventually(async () => toGoogle(phone.fcm).length === 2, 20_000);
    expect(toApple(phone.apns, false)).toHaveLength(1);
    await s.close();
  }, 90_000);

  it("retries a 429 after its Retry-After, and then delivers", async () => {
    const [sender, owner] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(owner, ["apns"]);
    apple.program(phone.apns, { status: 429, reason: "TooManyRequests", retryAfter: 2 });
    const room = await group(edge, sender, [owner]);
    const s = await openStream(edge, sender, room.id);
    await send(s, room.id, "patience");
    await eventually(async () => toApple(phone.apns).length === 1, 30_000, 100);
    expect(toApple(phone.apns, false).map((r) => r.status)).toEqual([429, 200]);
    // the relay logs an attempt after the provider answered it: the 200 reached Apple first
    const rows = await eventually(async () => {
      const { rows } = await db().query(
        `select l.outcome, l.status_code, l.at from push_delivery_logs l join push_notifications p on p.id = l.notification_id
         where p.user_id = $1 order by l.at`,
        [owner.id],
      );
      return rows.length >= 2 ? rows : null;
    }, 10_000);
    expect(rows.map((r) => Number(r.status_code))).toEqual([429, 200]);
    expect(new Date(rows[1].at).getTime() - new Date(rows[0].at).getTime()).toBeGreaterThanOrEqual(2_000);
    await s.close();
  });

  it("collapses a burst of 50 messages into one banner per room that ends on the last message", async () => {
    const [sender, owner] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(owner, ["web"]);
    const room = await group(edge, sender, [owner], "Burst");
    const s = await openStream(edge, sender, room.id);
    const started = Date.now();
    for (let i = 1; i <= 50; i++)
      s.send({ type: "send", room_id: room.id, client_message_id: `burst-${i}`, body: `burst ${i}` });
    const acks = await s.takeN("ack", 50, 20_000);
    const last = Math.max(...acks.map((a) => a.seq as number));
    await eventually(
      async () => toBrowser(phone.web).some((r) => (JSON.parse(r.plaintext) as { seq: number }).seq === last),
      20_000,
      100,
    );
    await sleep(1_500);
    const pushes = toBrowser(phone.web);
    // the room hands over at most one batch a second: a few pushes, one Topic, so one banner
    expect(pushes.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000));
    expect(pushes.length).toBeLessThan(10);
    expect(new Set(pushes.map((p) => p.headers.topic)).size).toBe(1);
    const rows = await notifications(owner.id, room.id);
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(50);
    await s.close();
  });

  it("loses no notification while the relay is down for 100 sends: they arrive once it is back", async () => {
    const [sender, owner] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(owner, ["fcm"]);
    const room = await group(edge, sender, [owner], "Outage");
    const s = await openStream(edge, sender, room.id);
    await relay.stop();
    for (let i = 1; i <= 100; i++)
      s.send({ type: "send", room_id: room.id, client_message_id: `down-${i}`, body: `while down ${i}` });
    const acks = await s.takeN("ack", 100, 30_000);
    expect(acks).toHaveLength(100);
    const last = Math.max(...acks.map((a) => a.seq as number));
    await sleep(1_500);
    expect(toGoogle(phone.fcm)).toEqual([]);

    relay = superviseRelay();
    await relay.waitHealthy(60_000);
    await eventually(
      async () =>
        toGoogle(phone.fcm).some((r) => (r.message as { data: Record<string, string> }).data.seq === String(last)),
      30_000,
      100,
    );
    const rows = await notifications(owner.id, room.id);
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(100);
    expect(Math.max(...rows.map((r) => Number(r.seq)))).toBe(last);
    await s.close();
  });

  it("restarts a relay killed by PID, and the room's outbox catches it up", async () => {
    const [sender, owner] = (await people(2)) as [Seeded, Seeded];
    const phone = await devices(owner, ["apns"]);
    const room = await group(edge, sender, [owner], "Crash");
    const s = await openStream(edge, sender, room.id);
    const before = relay.pid!;
    const exited = new Promise((r) => relay.once("exit", r));
    process.kill(before, "SIGKILL");
    await exited;
    const ack = await send(s, room.id, "after the crash");
    await relay.waitHealthy(30_000);
    expect(relay.pid).not.toBe(before);
    await eventually(async () => toApple(phone.apns).length === 1, 30_000, 100);
    expect((toApple(phone.apns)[0]!.payload as { seq: number }).seq).toBe(ack.seq);
    await s.close();
  });
});
