// The dispatcher against a real PostgreSQL, with recording providers that answer what each test
// tells them: one send per device, collapse, badges and reads, and what every outcome does to the
// token, the notification and the provider. Short backoffs and pauses stand in for the real
// minutes.
import webpush from "web-push";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { pushOriginRule } from "../lib/push-origins/index.js";
import { PushOutcome, PushStatus } from "../db/index.js";
import { collapseKeyFor } from "./content.js";
import { Dispatcher } from "./dispatcher.js";
import { DEFAULT_DISPATCH, startRelay, type DispatchSettings, type Providers, type RunningRelay } from "./index.js";
import { WebPushProvider } from "./providers/webpush.js";
import {
  batch,
  message,
  metricValue,
  ownDatabase,
  post,
  RELAY_SECRET,
  recordingProviders,
  seedDevice,
  seedRoom,
  seedUsers,
  waitFor,
} from "../test/support/push-relay.js";

let database: Awaited<ReturnType<typeof ownDatabase>>;
const running: RunningRelay[] = [];
const extraStops: Array<() => Promise<void>> = [];
let logs: string[] = [];
const sql = (text: string, values: unknown[] = []) => database.pool.query(text, values);

const FAST: Partial<DispatchSettings> = {
  idlePollMs: 20,
  retryBaseMs: 20,
  quotaBaseMs: 40,
  retryCapMs: 5_000,
  providerPauseMs: 60_000,
};

async function relayWith(providers: Providers, dispatch: Partial<DispatchSettings> = {}): Promise<RunningRelay> {
  const relay = await startRelay({
    secret: RELAY_SECRET,
    databaseUrl: database.url,
    providers,
    dispatch: { ...FAST, ...dispatch },
    // full jitter pinned to the window's middle: the first retry waits the base
    random: () => 0.5,
    log: (l) => logs.push(l),
  });
  running.push(relay);
  return relay;
}

beforeAll(async () => {
  database = await ownDatabase("push_dispatch");
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  await Promise.all(extraStops.splice(0).map((s) => s()));
  // what a test left waiting (a paused provider's rows) is not the next test's business
  await sql(`update push_notifications set status = $1 where status = $2`, [PushStatus.failed, PushStatus.pending]);
  logs = [];
});

afterAll(async () => {
  await database?.drop();
});

interface Row {
  id: string;
  status: number;
  seq: number;
  count: number;
  attempts: number;
  sent_at: Date | null;
  read_at: Date | null;
  failed_reason: string | null;
  title: string | null;
  body: string | null;
}

async function rowsOf(user: string, room: string): Promise<Row[]> {
  const r = await sql(
    `select id, status, seq::int, count, attempts, sent_at, read_at, failed_reason, title, body
     from push_notifications where user_id = $1 and room_id = $2 order by created_at`,
    [user, room],
  );
  return r.rows;
}

const settled = (user: string, room: string, count = 1) =>
  waitFor(async () => {
    const rows = await rowsOf(user, room);
    return rows.length >= count && rows.every((r) => r.status !== PushStatus.pending) ? rows : undefined;
  }, `the notifications of ${user} in ${room} to settle`);

async function logsOf(notification: string) {
  const r = await sql(
    `select device_id, attempt, outcome, status_code, error, latency_ms, seq::int from push_delivery_logs
     where notification_id = $1 order by id`,
    [notification],
  );
  return r.rows as Array<{
    device_id: string;
    attempt: number;
    outcome: number;
    status_code: number | null;
    error: string | null;
    latency_ms: number | null;
    seq: number;
  }>;
}

const only = (...users: string[]) => ({ mode: "only" as const, user_ids: users, quiet: [] });

describe("push relay dispatcher", () => {
  it("sends each active device one notification with the room's collapse key and the badge, and logs each attempt", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob] = await seedUsers(database.pool, 2, (i) => ["Ann", "Bob"][i]!);
    const room = await seedRoom(database.pool, { name: "Crew", members: [{ user: ann! }, { user: bob! }] });
    const phone = await seedDevice(database.pool, bob!, "apns", { environment: "sandbox" });
    const tablet = await seedDevice(database.pool, bob!, "fcm");
    const browser = await seedDevice(database.pool, bob!, "webpush");
    const old = await seedDevice(database.pool, bob!, "apns", { active: false });

    const res = await post(relay, batch({ room, name: "Crew", messages: [1, 2, 3].map((s) => message(s, ann!)) }));
    expect(res.body).toEqual({ batch_id: expect.any(String), notifications: 1 });
    const [row] = await settled(bob!, room);
    expect(row).toMatchObject({ status: PushStatus.sent, attempts: 1, count: 3, seq: 3 });
    expect(row!.sent_at).toBeInstanceOf(Date);

    expect(providers.apns.callsFor(phone)).toHaveLength(1);
    expect(providers.fcm.callsFor(tablet)).toHaveLength(1);
    expect(providers.webpush.callsFor(browser)).toHaveLength(1);
    expect(providers.apns.callsFor(old)).toHaveLength(0);
    const [apns] = providers.apns.callsFor(phone);
    expect(apns!.target).toMatchObject({ device_id: phone, platform: "apns", environment: "sandbox" });
    expect(apns!.content).toEqual({
      room_id: room,
      seq: 3,
      title: "Crew",
      body: "Ann: message 3",
      count: 3,
      badge: 3,
      mentioned: false,
      collapse_key: collapseKeyFor(room),
      ttl_seconds: DEFAULT_DISPATCH.ttlSeconds,
    });
    expect(providers.webpush.callsFor(browser)[0]!.target).toMatchObject({
      p256dh: "BP256dh-key",
      auth: "auth-secret",
    });

    const attempts = await logsOf(row!.id);
    expect(attempts.map((l) => l.device_id).sort()).toEqual([phone, tablet, browser].sort());
    for (const l of attempts) {
      expect(l).toMatchObject({ attempt: 1, outcome: PushOutcome.sent, status_code: 200, error: null, seq: 3 });
      expect(l.latency_ms).toBeGreaterThanOrEqual(0);
    }
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toContain('push_sent_total{provider="apns"} 1');
    expect(metrics).toContain('push_batches_total{outcome="accepted"} 1');
    expect(metrics).toMatch(/push_provider_latency_seconds_count\{provider="fcm"\} 1/);

    // nothing is sent twice afterwards
    await new Promise((r) => setTimeout(r, 200));
    expect(providers.apns.calls.length + providers.fcm.calls.length + providers.webpush.calls.length).toBe(3);
  });

  it("collapses a burst: 50 messages are one banner per room that updates, not 50", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    const device = await seedDevice(database.pool, bob!, "fcm");

    // 50 in one window: one send
    await post(
      relay,
      batch({ room, messages: Array.from({ length: 50 }, (_, i) => message(i + 1, ann!)), audience: only(bob!) }),
    );
    await settled(bob!, room);
    expect(providers.fcm.callsFor(device).map((c) => [c.content.seq, c.content.count])).toEqual([[50, 50]]);

    // 50 more in ten windows, while the dispatcher sends: at most one send per window, one key
    for (let w = 0; w < 10; w++)
      await post(
        relay,
        batch({
          room,
          messages: Array.from({ length: 5 }, (_, i) => message(51 + w * 5 + i, ann!)),
          audience: only(bob!),
        }),
      );
    await waitFor(async () => {
      const rows = await rowsOf(bob!, room);
      return rows.every((r) => r.status === PushStatus.sent) && rows.reduce((n, r) => n + r.count, 0) === 100;
    }, "the second burst to be sent");
    const calls = providers.fcm.callsFor(device);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThanOrEqual(11);
    expect(new Set(calls.map((c) => c.content.collapse_key))).toEqual(new Set([collapseKeyFor(room)]));
    expect(calls.at(-1)!.content.seq).toBe(100);
  });

  it("counts the badge over rooms as the rooms report it; a read sets read_at and drops it", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob] = await seedUsers(database.pool, 2);
    const roomA = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    const roomB = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    const device = await seedDevice(database.pool, bob!, "fcm");
    const badges = () => providers.fcm.callsFor(device).map((c) => c.content.badge);

    await post(
      relay,
      batch({ room: roomA, messages: [1, 2, 3, 4, 5].map((s) => message(s, ann!)), audience: only(bob!) }),
    );
    await settled(bob!, roomA);
    await post(relay, batch({ room: roomB, messages: [1, 2, 3].map((s) => message(s, ann!)), audience: only(bob!) }));
    await settled(bob!, roomB);
    expect(badges()).toEqual([5, 8]);

    await post(relay, batch({ room: roomA, reads: [{ user_id: bob!, read_seq: 5 }], last_seq: 5 }));
    const [readA] = await rowsOf(bob!, roomA);
    expect(readA).toMatchObject({ status: PushStatus.sent });
    expect(readA!.read_at).toBeInstanceOf(Date);
    expect((await rowsOf(bob!, roomB))[0]!.read_at).toBeNull();

    await post(relay, batch({ room: roomB, messages: [message(4, ann!)], audience: only(bob!) }));
    await settled(bob!, roomB, 2);
    expect(badges()).toEqual([5, 8, 4]);
  });

  it("never sends a notification read before it went out", async () => {
    const intake = await relayWith(recordingProviders(), { enabled: false });
    const [ann, bob, cat] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    const bobDevice = await seedDevice(database.pool, bob!, "apns");
    const catDevice = await seedDevice(database.pool, cat!, "apns");
    await post(intake, batch({ room, messages: [message(1, ann!), message(2, ann!)] }));
    await post(intake, batch({ room, reads: [{ user_id: bob!, read_seq: 2 }] }));
    expect((await rowsOf(bob!, room))[0]).toMatchObject({ status: PushStatus.read });

    const providers = recordingProviders();
    await relayWith(providers);
    // cat did not read: the dispatcher is working, and still leaves bob's alone
    await settled(cat!, room);
    expect(providers.apns.callsFor(catDevice)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(providers.apns.callsFor(bobDevice)).toHaveLength(0);
    const [bobs] = await rowsOf(bob!, room);
    expect(bobs).toMatchObject({ status: PushStatus.read, sent_at: null, attempts: 0 });
    expect(await logsOf(bobs!.id)).toEqual([]);
  });

  it("retires a token the provider calls dead (device inactive, with the reason); the next notification skips it", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob, cat] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    const dead = await seedDevice(database.pool, bob!, "apns");
    const alive = await seedDevice(database.pool, bob!, "fcm");
    const catsOnly = await seedDevice(database.pool, cat!, "webpush");
    providers.apns.answer(dead, { kind: "retire", status: 410, reason: "Unregistered" });
    providers.webpush.answer(catsOnly, { kind: "retire", status: 404, reason: "404 Not Found" });

    await post(relay, batch({ room, messages: [message(1, ann!)], audience: only(bob!, cat!) }));
    const [first] = await settled(bob!, room);
    expect(first!.status).toBe(PushStatus.sent);
    const device = await sql(`select active, retired_reason, retired_at from user_devices where id = $1`, [dead]);
    expect(device.rows[0]).toMatchObject({ active: false, retired_reason: "Unregistered" });
    expect(device.rows[0].retired_at).toBeInstanceOf(Date);
    expect((await logsOf(first!.id)).find((l) => l.device_id === dead)).toMatchObject({
      outcome: PushOutcome.token_retired,
      status_code: 410,
      error: "Unregistered",
    });
    expect(await metricValue(relay, "push_tokens_retired_total", { provider: "apns", reason: "Unregistered" })).toBe(1);
    // cat's only device is gone: nobody took it
    expect((await settled(cat!, room))[0]).toMatchObject({
      status: PushStatus.failed,
      failed_reason: "token_retired: 404 Not Found",
    });

    await post(relay, batch({ room, messages: [message(2, ann!)], audience: only(bob!) }));
    await settled(bob!, room, 2);
    expect(providers.apns.callsFor(dead)).toHaveLength(1);
    expect(providers.fcm.callsFor(alive).map((c) => c.content.seq)).toEqual([1, 2]);
  });

  it("retires a Web Push subscription whose endpoint the allow-list no longer takes, and never tries it again", async () => {
    // the real provider, allowing one push service; seedDevice's endpoints are on another
    const vapid = { subject: "mailto:ops@example.org", ...webpush.generateVAPIDKeys() };
    const real = new WebPushProvider({ vapid, allow: pushOriginRule("https://push.allowed.test") });
    extraStops.push(() => real.close());
    const relay = await relayWith({ ...recordingProviders(), webpush: real });
    const [ann, bob] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    const offList = await seedDevice(database.pool, bob!, "webpush");

    await post(relay, batch({ room, messages: [message(1, ann!)], audience: only(bob!) }));
    const [first] = await settled(bob!, room);
    expect(first).toMatchObject({ status: PushStatus.failed, failed_reason: "token_retired: endpoint_not_allowed" });
    const device = await sql(`select active, retired_reason from user_devices where id = $1`, [offList]);
    expect(device.rows[0]).toEqual({ active: false, retired_reason: "endpoint_not_allowed" });
    expect(
      await metricValue(relay, "push_tokens_retired_total", { provider: "webpush", reason: "endpoint_not_allowed" }),
    ).toBe(1);

    // the next notification has no device left to try: one attempt at it in all
    await post(relay, batch({ room, messages: [message(2, ann!)], audience: only(bob!) }));
    const [, second] = await settled(bob!, room, 2);
    expect(second).toMatchObject({ status: PushStatus.failed, failed_reason: "no_active_device" });
    const attempts = await sql(`select count(*)::int as n from push_delivery_logs where device_id = $1`, [offList]);
    expect(attempts.rows[0].n).toBe(1);
  });

  it("retries only the devices that need it, not before retry_after_ms, at most 3 tries, then gives up", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob, cat] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    const flaky = await seedDevice(database.pool, bob!, "fcm");
    const fine = await seedDevice(database.pool, bob!, "webpush");
    const down = await seedDevice(database.pool, cat!, "apns");
    providers.fcm.fallback = () => ({
      kind: "retry",
      status: 429,
      reason: "QUOTA_EXCEEDED",
      retry_after_ms: 300,
      quota: true,
    });
    providers.apns.fallback = () => ({ kind: "retry", status: 503, reason: "ServiceUnavailable" });

    await post(relay, batch({ room, messages: [message(1, ann!)], audience: only(bob!, cat!) }));
    const [bobs] = await settled(bob!, room);
    const [cats] = await settled(cat!, room);

    const tries = providers.fcm.callsFor(flaky);
    expect(tries).toHaveLength(3);
    for (let i = 1; i < tries.length; i++) expect(tries[i]!.at - tries[i - 1]!.at).toBeGreaterThanOrEqual(300);
    expect(providers.webpush.callsFor(fine)).toHaveLength(1);
    // one device took it: sent, though the other gave up
    expect(bobs).toMatchObject({ status: PushStatus.sent, attempts: 3 });
    const bobLogs = await logsOf(bobs!.id);
    expect(bobLogs.filter((l) => l.device_id === flaky).map((l) => [l.attempt, l.outcome, l.status_code])).toEqual([
      [1, PushOutcome.retry, 429],
      [2, PushOutcome.retry, 429],
      [3, PushOutcome.failed, 429],
    ]);
    expect(bobLogs.filter((l) => l.device_id === fine).map((l) => l.outcome)).toEqual([PushOutcome.sent]);

    expect(providers.apns.callsFor(down)).toHaveLength(3);
    expect(cats).toMatchObject({ status: PushStatus.failed, failed_reason: "retries_spent: ServiceUnavailable" });
    expect(await metricValue(relay, "push_retried_total", { provider: "fcm" })).toBe(2);
    expect(await metricValue(relay, "push_failed_total", { provider: "apns", reason: "retries_spent" })).toBe(1);
    // a retry never retires
    const active = await sql(`select count(*)::int as n from user_devices where id = any($1) and active`, [
      [flaky, down],
    ]);
    expect(active.rows[0].n).toBe(2);

    await new Promise((r) => setTimeout(r, 300));
    expect(providers.fcm.callsFor(flaky)).toHaveLength(3);
    expect(providers.apns.callsFor(down)).toHaveLength(3);
  });

  it("pauses a provider on a configuration fault: nothing retired or failed, its notifications wait and go after the pause", async () => {
    const providers = recordingProviders();
    const pauseMs = 800;
    const relay = await relayWith(providers, { providerPauseMs: pauseMs });
    const [ann, bob, dan] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, dan].map((u) => ({ user: u! })) });
    const wrongTopic = await seedDevice(database.pool, bob!, "apns");
    const android = await seedDevice(database.pool, bob!, "fcm");
    const other = await seedDevice(database.pool, dan!, "apns");
    providers.apns.answer(wrongTopic, { kind: "config", status: 400, reason: "DeviceTokenNotForTopic" });

    await post(relay, batch({ room, messages: [message(1, ann!)], audience: only(bob!) }));
    await waitFor(
      async () =>
        providers.fcm.callsFor(android).length === 1 && (await metricValue(relay, "push_config_faults_total")) === 1,
      "the fault",
    );
    const faultAt = providers.apns.callsFor(wrongTopic)[0]!.at;
    expect(await metricValue(relay, "push_provider_paused", { provider: "apns" })).toBe(1);
    expect(
      await metricValue(relay, "push_config_faults_total", { provider: "apns", reason: "DeviceTokenNotForTopic" }),
    ).toBe(1);
    expect(logs.some((l) => l.startsWith("CONFIGURATION FAULT: apns answered 400 DeviceTokenNotForTopic"))).toBe(true);

    // another user's APNs device waits for the pause too
    await post(relay, batch({ room, messages: [message(2, ann!)], audience: only(dan!) }));
    await new Promise((r) => setTimeout(r, 200));
    expect(providers.apns.callsFor(other)).toHaveLength(0);
    expect((await rowsOf(bob!, room))[0]).toMatchObject({ status: PushStatus.pending, failed_reason: null });
    expect((await rowsOf(dan!, room))[0]).toMatchObject({ status: PushStatus.pending });

    const [bobs] = await settled(bob!, room);
    await settled(dan!, room);
    expect(bobs!.status).toBe(PushStatus.sent);
    const resumed = providers.apns.callsFor(wrongTopic);
    expect(resumed).toHaveLength(2);
    expect(resumed[1]!.at - faultAt).toBeGreaterThanOrEqual(pauseMs - 50);
    expect(providers.apns.callsFor(other)[0]!.at - faultAt).toBeGreaterThanOrEqual(pauseMs - 50);
    // the device that had it already is not sent it again
    expect(providers.fcm.callsFor(android)).toHaveLength(1);
    expect((await logsOf(bobs!.id)).filter((l) => l.device_id === wrongTopic).map((l) => l.outcome)).toEqual([
      PushOutcome.config_fault,
      PushOutcome.sent,
    ]);
    const retired = await sql(`select count(*)::int as n from user_devices where id = any($1) and not active`, [
      [wrongTopic, other],
    ]);
    expect(retired.rows[0].n).toBe(0);
    await waitFor(
      async () => (await metricValue(relay, "push_provider_paused", { provider: "apns" })) === 0,
      "the pause to end",
    );
  });

  it("fails a notification whose recipient has no active device, saying why", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    await seedDevice(database.pool, bob!, "fcm", { active: false });
    await post(relay, batch({ room, messages: [message(1, ann!)], audience: only(bob!) }));
    const [row] = await settled(bob!, room);
    expect(row).toMatchObject({ status: PushStatus.failed, failed_reason: "no_active_device", sent_at: null });
    expect(providers.fcm.calls).toHaveLength(0);
    expect(await metricValue(relay, "push_failed_total", { provider: "none", reason: "no_active_device" })).toBe(1);
  });

  it("never sends one notification twice when two dispatchers share the database", async () => {
    const intake = await relayWith(recordingProviders(), { enabled: false });
    const users = await seedUsers(database.pool, 41);
    const [sender, ...recipients] = users as [string, ...string[]];
    const room = await seedRoom(database.pool, { members: users.map((user) => ({ user })) });
    const devices = new Map<string, string>();
    for (const u of recipients) devices.set(await seedDevice(database.pool, u, "fcm"), u);
    await post(intake, batch({ room, messages: [message(1, sender)] }));

    const settings = { ...DEFAULT_DISPATCH, ...FAST, claimBatch: 4, sendConcurrency: 2 };
    const a = recordingProviders();
    const b = recordingProviders();
    a.fcm.delayMs = b.fcm.delayMs = 30;
    const dispatchers = [a, b].map(
      (providers) =>
        new Dispatcher({ db: intake.store.db, providers, metrics: intake.metrics, settings, log: (l) => logs.push(l) }),
    );
    // rounds run side by side until nothing is left
    for (;;) {
      const claimed = await Promise.all(dispatchers.map((d) => d.runOnce()));
      if (claimed.every((n) => n === 0)) break;
    }
    const sent = [...a.fcm.calls, ...b.fcm.calls].map((c) => c.target.device_id);
    expect(sent.sort()).toEqual([...devices.keys()].sort());
    expect(a.fcm.calls.length).toBeGreaterThan(0);
    expect(b.fcm.calls.length).toBeGreaterThan(0);
    const states = await sql(
      `select status, count(*)::int as n from push_notifications where room_id = $1 group by status`,
      [room],
    );
    expect(states.rows).toEqual([{ status: PushStatus.sent, n: 40 }]);
    const perNotification = await sql(
      `select count(*)::int as n from push_delivery_logs l join push_notifications n on n.id = l.notification_id
       where n.room_id = $1 group by l.notification_id having count(*) > 1`,
      [room],
    );
    expect(perNotification.rows).toEqual([]);
  });

  it("sleeps while nothing is pending: an empty queue costs a round per poll interval, not a busy loop", async () => {
    const intake = await relayWith(recordingProviders(), { enabled: false });
    let queries = 0;
    const db = intake.store.db;
    const counting = new Proxy(db, {
      get: (target, key, receiver) =>
        key === "execute"
          ? (...args: Parameters<typeof db.execute>) => {
              queries++;
              return target.execute(...args);
            }
          : Reflect.get(target, key, receiver),
    });
    const settings = { ...DEFAULT_DISPATCH, ...FAST, idlePollMs: 5_000 };
    const d = new Dispatcher({
      db: counting,
      providers: recordingProviders(),
      metrics: intake.metrics,
      settings,
      log: (l) => logs.push(l),
    });
    extraStops.push(() => d.stop());
    d.start();
    await new Promise((r) => setTimeout(r, 1_000));
    // one round (claim) and one look at when the next row is due; a spinning loop makes hundreds
    expect(queries).toBeGreaterThanOrEqual(2);
    expect(queries).toBeLessThanOrEqual(4);
  });

  it("takes back a notification whose round died only after its lease ran out", async () => {
    const intake = await relayWith(recordingProviders(), { enabled: false });
    const [ann, bob] = await seedUsers(database.pool, 2);
    const room = await seedRoom(database.pool, { members: [{ user: ann! }, { user: bob! }] });
    const device = await seedDevice(database.pool, bob!, "fcm");
    await post(intake, batch({ room, messages: [message(1, ann!)], audience: only(bob!) }));
    const settings = { ...DEFAULT_DISPATCH, ...FAST, leaseMs: 600 };
    // a provider that never answers stands for a relay that died mid-round
    const stuck = recordingProviders();
    stuck.fcm.hang = true;
    const dead = new Dispatcher({
      db: intake.store.db,
      providers: stuck,
      metrics: intake.metrics,
      settings,
      log: () => {},
    });
    void dead.runOnce();
    await waitFor(async () => stuck.fcm.calls.length === 1, "the stuck send");
    const providers = recordingProviders();
    const live = new Dispatcher({ db: intake.store.db, providers, metrics: intake.metrics, settings, log: () => {} });
    expect(await live.runOnce()).toBe(0);
    await new Promise((r) => setTimeout(r, settings.leaseMs + 50));
    expect(await live.runOnce()).toBe(1);
    expect(providers.fcm.callsFor(device)).toHaveLength(1);
    expect((await rowsOf(bob!, room))[0]!.status).toBe(PushStatus.sent);
  });

  it("retention clears old previews, drops old delivery logs and batch ids, and expires what waited too long", async () => {
    const providers = recordingProviders();
    const relay = await relayWith(providers);
    const [ann, bob, cat] = await seedUsers(database.pool, 3);
    const room = await seedRoom(database.pool, { members: [ann, bob, cat].map((u) => ({ user: u! })) });
    await seedDevice(database.pool, bob!, "fcm");
    const oldBatch = batch({ room, messages: [message(1, ann!, { preview: "old secret" })], audience: only(bob!) });
    await post(relay, oldBatch);
    const [old] = await settled(bob!, room);
    const newBatch = batch({ room, messages: [message(2, ann!, { preview: "new" })], audience: only(bob!) });
    await post(relay, newBatch);
    const fresh = (await settled(bob!, room, 2))[1]!;
    await relay.stop();

    await sql(`update push_notifications set created_at = now() - interval '200 days' where id = $1`, [old!.id]);
    await sql(`update push_delivery_logs set at = now() - interval '200 days' where notification_id = $1`, [old!.id]);
    await sql(`update push_batches set received_at = now() - interval '2 days' where batch_id = $1`, [
      oldBatch.batch_id,
    ]);
    // cat's notification has waited past retention (a provider paused for months)
    const stale = await sql(
      `insert into push_notifications (user_id, room_id, seq, collapse_key, title, body, status, created_at)
       values ($1, $2, 1, 'k', 't', 'b', $3, now() - interval '200 days') returning id`,
      [cat, room, PushStatus.pending],
    );

    // a relay runs retention when it starts (and hourly); this run waits for whatever that one holds
    const later = await relayWith(recordingProviders(), { enabled: false });
    await later.purgeExpired();
    const rows = new Map((await rowsOf(bob!, room)).map((r) => [r.id, r]));
    expect(rows.get(old!.id)).toMatchObject({ title: null, body: null, status: PushStatus.sent });
    expect(rows.get(fresh.id)).toMatchObject({ title: "The Room", body: expect.stringContaining("new") });
    expect(await logsOf(old!.id)).toEqual([]);
    expect(await logsOf(fresh.id)).toHaveLength(1);
    const ids = await sql(`select batch_id from push_batches where batch_id = any($1)`, [
      [oldBatch.batch_id, newBatch.batch_id],
    ]);
    expect(ids.rows.map((r) => r.batch_id)).toEqual([newBatch.batch_id]);
    expect(
      (await sql(`select status, failed_reason, title from push_notifications where id = $1`, [stale.rows[0].id]))
        .rows[0],
    ).toEqual({
      status: PushStatus.failed,
      failed_reason: "expired",
      title: null,
    });
  });
});
