import { createECDH, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DeviceRetiredReason, PushEnvironment, PushPlatform } from "../../db/index.js";
import { MAX_ACTIVE_DEVICES_PER_USER, type ErrorBody, type PublicUser } from "../../protocol/index.js";
import type { DeviceListResponse, DeviceResponse } from "../../protocol/social.js";
import { call, db, register, seedUsers, tokenFor } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, useEdge } from "../../test/support/edge.js";

type User = PublicUser & { token: string };
// a local stand-in push service (with a port) and a made-up one replace the vendors' list; moves
// get a small burst that nothing refills while the file runs
const STAND_IN = "https://127.0.0.1:18999";
const MOVE_BURST = 3;
const edge = useEdge({
  WEBPUSH_ALLOW_ORIGINS: `${STAND_IN}, https://push.example.com`,
  DEVICE_MOVE_RATE_PER_MINUTE: "0.001",
  DEVICE_MOVE_BURST: String(MOVE_BURST),
});

const users = (n: number) => seedUsers(n, "dev") as Promise<User[]>;
const post = (me: User, body: unknown) =>
  call<DeviceResponse & Partial<ErrorBody>>(edge, "POST", "/v1/devices", { token: me.token, body });
const remove = (me: User, id: string) => call(edge, "DELETE", `/v1/devices/${id}`, { token: me.token });
const list = async (me: User) => {
  const res = await call<DeviceListResponse>(edge, "GET", "/v1/devices", { token: me.token });
  expect(res.status).toBe(200);
  return res.body.devices;
};
/** A fresh APNs-style token: 64 hex digits. */
const apnsToken = () => (crypto.randomUUID() + crypto.randomUUID()).replace(/-/g, "");
const fcmToken = () => `fcm:${crypto.randomUUID()}:APA91b${"x".repeat(100)}`;
/** What a browser's PushSubscription.toJSON() gives: an endpoint and the subscription's real key pair. */
function subscription(origin = STAND_IN) {
  return {
    endpoint: `${origin}/wp/${crypto.randomUUID()}`,
    expirationTime: null,
    keys: {
      p256dh: createECDH("prime256v1").generateKeys().toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    },
  };
}

interface StoredDevice {
  id: string;
  user_id: string;
  platform: number;
  token: string;
  p256dh: string | null;
  auth_secret: string | null;
  app_id: string | null;
  name: string | null;
  environment: number | null;
  client_device_id: string | null;
  active: boolean;
  retired_reason: string | null;
  retired_at: Date | null;
  created_at: Date;
}
const COLUMNS =
  "id, user_id, platform, token, p256dh, auth_secret, app_id, name, environment, client_device_id, active, retired_reason, retired_at, created_at";
async function stored(id: string): Promise<StoredDevice | undefined> {
  const { rows } = await db().query(`select ${COLUMNS} from user_devices where id = $1`, [id]);
  return rows[0];
}
async function rowsOfToken(token: string): Promise<StoredDevice[]> {
  const { rows } = await db().query(`select ${COLUMNS} from user_devices where token = $1 order by created_at`, [
    token,
  ]);
  return rows;
}
async function activeCount(user: User): Promise<number> {
  const { rows } = await db().query("select count(*)::int as n from user_devices where user_id = $1 and active", [
    user.id,
  ]);
  return rows[0].n;
}

describe("POST /v1/devices", () => {
  it("registers an APNs device (token stored lower-case) and answers 201 {device}", async () => {
    const me = await register(edge);
    const token = apnsToken().toUpperCase();
    const res = await post(me, { platform: "apns", token, app_id: "com.example.chat", name: "Work iPhone" });
    expect(res.status).toBe(201);
    expect(res.body.device).toEqual({
      id: expect.any(String),
      platform: "apns",
      name: "Work iPhone",
      environment: "production",
      device_id: null,
      created_at: expect.any(String),
    });
    expect(Date.parse(res.body.device.created_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await stored(res.body.device.id)).toMatchObject({
      user_id: me.id,
      platform: PushPlatform.apns,
      token: token.toLowerCase(),
      app_id: "com.example.chat",
      active: true,
      p256dh: null,
    });
    // the same token in another case is the same device
    const again = await post(me, { platform: "apns", token: token.toLowerCase() });
    expect(again.body.device.id).toBe(res.body.device.id);
    expect(await activeCount(me as User)).toBe(1);
  });

  it("registers FCM and Web Push devices, keeping the Web Push keys", async () => {
    const [me] = await users(1);
    const fcm = await post(me!, { platform: "fcm", token: fcmToken() });
    expect(fcm.status).toBe(201);
    expect(fcm.body.device).toMatchObject({ platform: "fcm", name: null });
    const endpoint = `https://push.example.com/wp/${crypto.randomUUID()}`;
    const web = await post(me!, {
      platform: "webpush",
      token: endpoint,
      keys: { p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA", auth: "tBHItJI5svbpez7KI4CCXg" },
      name: "Firefox",
    });
    expect(web.status).toBe(201);
    expect(web.body.device).toMatchObject({ platform: "webpush", name: "Firefox" });
    expect(await stored(web.body.device.id)).toMatchObject({
      platform: PushPlatform.webpush,
      token: endpoint,
      p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA",
      auth_secret: "tBHItJI5svbpez7KI4CCXg",
    });
    expect(await activeCount(me!)).toBe(2);
  });

  it("reactivates a removed device when it registers again", async () => {
    const [me] = await users(1);
    const token = apnsToken();
    const first = await post(me!, { platform: "apns", token });
    expect((await remove(me!, first.body.device.id)).status).toBe(204);
    const again = await post(me!, { platform: "apns", token, name: "back" });
    expect(again.body.device.id).toBe(first.body.device.id);
    expect(again.body.device.created_at).toBe(first.body.device.created_at);
    expect(await stored(first.body.device.id)).toMatchObject({
      active: true,
      name: "back",
      retired_reason: null,
      retired_at: null,
    });
  });

  it(`allows at most ${MAX_ACTIVE_DEVICES_PER_USER} active devices a user (409 beyond)`, async () => {
    const [me] = await users(1);
    const tokens = Array.from({ length: MAX_ACTIVE_DEVICES_PER_USER }, apnsToken);
    const ids: string[] = [];
    for (const token of tokens) {
      const res = await post(me!, { platform: "apns", token });
      expect(res.status).toBe(201);
      ids.push(res.body.device.id);
    }
    const over = await post(me!, { platform: "fcm", token: fcmToken() });
    expect(over.status).toBe(409);
    expect(over.body.error?.code).toBe("conflict");
    expect(await activeCount(me!)).toBe(MAX_ACTIVE_DEVICES_PER_USER);
    // refreshing one already held is not a new place
    expect((await post(me!, { platform: "apns", token: tokens[0], name: "renamed" })).status).toBe(201);
    // removing one frees a place
    expect((await remove(me!, ids[1]!)).status).toBe(204);
    expect((await post(me!, { platform: "fcm", token: fcmToken() })).status).toBe(201);
    expect(await activeCount(me!)).toBe(MAX_ACTIVE_DEVICES_PER_USER);
  });

  it("holds the limit under concurrent registrations", async () => {
    const [me] = await users(1);
    const answers = await Promise.all(
      Array.from({ length: MAX_ACTIVE_DEVICES_PER_USER + 5 }, () => post(me!, { platform: "fcm", token: fcmToken() })),
    );
    expect(answers.filter((r) => r.status === 201)).toHaveLength(MAX_ACTIVE_DEVICES_PER_USER);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(5);
    expect(await activeCount(me!)).toBe(MAX_ACTIVE_DEVICES_PER_USER);
  });

  it("stores a SQL-looking name verbatim", async () => {
    const [me] = await users(1);
    const name = "'; drop table user_devices; --";
    const res = await post(me!, { platform: "fcm", token: fcmToken(), name });
    expect(res.body.device.name).toBe(name);
    expect((await stored(res.body.device.id))!.name).toBe(name);
    const { rows } = await db().query("select to_regclass('public.user_devices') as t");
    expect(rows[0].t).toBe("user_devices");
  });

  it("refuses bad bodies with 400 and stores nothing", async () => {
    const [me] = await users(1);
    const cases: Array<{ rawBody?: string; body?: unknown; headers?: Record<string, string> }> = [
      { rawBody: "{" },
      { rawBody: '{"platform":"fcm","token":"abc"} trailing' },
      { rawBody: '{"platform":"fcm","token":"abc"}', headers: { "content-type": "text/plain" } },
      { body: {} },
      { body: { platform: "sms", token: "123" } },
      { body: { platform: "apns", token: "not-hex-at-all-not-hex-at-all-not-hex" } },
      { body: { platform: "apns", token: "abc" } },
      { body: { platform: "fcm", token: "" } },
      { body: { platform: "fcm", token: 12345 } },
      { body: { platform: "fcm", token: "x".repeat(4097) } },
      { body: { platform: "fcm", token: "abc", owner: "someone" } },
      { body: { platform: "fcm", token: "abc", name: "n".repeat(101) } },
      { body: { platform: "fcm", token: "abc", keys: { p256dh: "a", auth: "b" } } },
      { body: { platform: "webpush", token: `https://push.example.com/${crypto.randomUUID()}` } },
      { body: { platform: "webpush", token: "http://push.example.com/x", keys: { p256dh: "a", auth: "b" } } },
      { body: { platform: "webpush", token: "javascript:alert(1)", keys: { p256dh: "a", auth: "b" } } },
      {
        body: {
          platform: "webpush",
          token: "https://push.example.com/x",
          keys: { p256dh: "a", auth: "b", extra: "c" },
        },
      },
      // environment is an APNs token's, and one of two
      { body: { platform: "fcm", token: "abc", environment: "sandbox" } },
      { body: { platform: "apns", token: apnsToken(), environment: "staging" } },
      // device_id has the form of the ticket route's
      { body: { platform: "fcm", token: "abc", device_id: "has space" } },
      { body: { platform: "fcm", token: "abc", device_id: "d".repeat(65) } },
      { body: { platform: "fcm", token: "abc", device_id: "" } },
      // a subscription: the endpoint once, keys required, its own fields only
      { body: { ...subscription(), platform: "webpush", token: `${STAND_IN}/wp/x` } },
      { body: { endpoint: `${STAND_IN}/wp/x`, expirationTime: null } },
      { body: { ...subscription(), expirationTime: "tomorrow" } },
      { body: { ...subscription(), platform: "fcm" } },
      { body: { ...subscription(), endpoint: "http://127.0.0.1:18999/wp/x" } },
      { body: { token: `${STAND_IN}/wp/x`, keys: { p256dh: "a", auth: "b" } } },
    ];
    for (const opts of cases) {
      const res = await call(edge, "POST", "/v1/devices", { token: me!.token, ...opts });
      expect(res.status, JSON.stringify(opts).slice(0, 120)).toBe(400);
      expect(res.body.error?.code).toBe("invalid");
    }
    const big = await call(edge, "POST", "/v1/devices", {
      token: me!.token,
      body: { platform: "fcm", token: "x".repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("too_large");
    expect(await activeCount(me!)).toBe(0);
  });

  it("refuses a missing or expired token", async () => {
    const [me] = await users(1);
    expect((await call(edge, "POST", "/v1/devices", { body: { platform: "fcm", token: fcmToken() } })).status).toBe(
      401,
    );
    const expired = await tokenFor(me!, -60);
    const res = await call(edge, "POST", "/v1/devices", {
      token: expired,
      body: { platform: "fcm", token: fcmToken() },
    });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe("unauthorized");
    expect(await activeCount(me!)).toBe(0);
  });
});

describe("POST /v1/devices: Web Push subscriptions", () => {
  it("accepts a browser's PushSubscription.toJSON() as it is, with or without platform", async () => {
    const [me] = await users(1);
    const sub = subscription();
    const res = await post(me!, sub);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.device).toMatchObject({ platform: "webpush", environment: null, device_id: null });
    expect(await stored(res.body.device.id)).toMatchObject({
      user_id: me!.id,
      platform: PushPlatform.webpush,
      token: sub.endpoint,
      p256dh: sub.keys.p256dh,
      auth_secret: sub.keys.auth,
      active: true,
    });
    // with platform and this API's own fields beside it
    const other = subscription();
    const named = await post(me!, { ...other, platform: "webpush", name: "Firefox", device_id: "web-1" });
    expect(named.status).toBe(201);
    expect(named.body.device).toMatchObject({ platform: "webpush", name: "Firefox", device_id: "web-1" });
    expect((await stored(named.body.device.id))!.token).toBe(other.endpoint);
    // the same subscription in this API's shape is the same device
    const again = await post(me!, { platform: "webpush", token: sub.endpoint, keys: sub.keys });
    expect(again.body.device.id).toBe(res.body.device.id);
    expect(await activeCount(me!)).toBe(2);
  });

  it("refuses an endpoint outside the allowed push services with 400, storing nothing", async () => {
    const [me] = await users(1);
    const refused = [
      `https://evil.example.com/wp/${crypto.randomUUID()}`,
      // another port of the stand-in's host
      `https://127.0.0.1:19000/wp/${crypto.randomUUID()}`,
      // a vendor's service is not allowed once WEBPUSH_ALLOW_ORIGINS names others
      `https://fcm.googleapis.com/fcm/send/${crypto.randomUUID()}`,
      `https://169.254.169.254/latest/meta-data/${crypto.randomUUID()}`,
    ];
    for (const endpoint of refused) {
      for (const body of [
        { ...subscription(), endpoint },
        { platform: "webpush", token: endpoint, keys: subscription().keys },
      ]) {
        const res = await post(me!, body);
        expect(res.status, endpoint).toBe(400);
        expect(res.body.error?.code).toBe("invalid");
        expect(res.body.error?.message).toContain(new URL(endpoint).origin);
        expect(res.body.error?.message).toContain("not a Web Push service");
        // the path is the subscription's secret: never echoed
        expect(res.body.error?.message).not.toContain(new URL(endpoint).pathname);
      }
      expect(await rowsOfToken(endpoint)).toEqual([]);
    }
    expect(await activeCount(me!)).toBe(0);
  });

  it("accepts a local stand-in push service named in WEBPUSH_ALLOW_ORIGINS", async () => {
    const [me] = await users(1);
    const sub = subscription(STAND_IN);
    expect(new URL(sub.endpoint).port).toBe("18999");
    const res = await post(me!, sub);
    expect(res.status).toBe(201);
    expect((await rowsOfToken(sub.endpoint)).map((r) => r.user_id)).toEqual([me!.id]);
  });

  it("allows only the browser vendors' push services when WEBPUSH_ALLOW_ORIGINS is empty", async () => {
    const defaults = await startEdge(testEdgeOptions({ WEBPUSH_ALLOW_ORIGINS: "" }));
    try {
      const [me] = await users(1);
      const at = async (origin: string) => {
        const sub = subscription(origin);
        const res = await call(defaults, "POST", "/v1/devices", { token: me!.token, body: sub });
        return { status: res.status, rows: (await rowsOfToken(sub.endpoint)).length };
      };
      for (const origin of ["https://fcm.googleapis.com", "https://updates.push.services.mozilla.com"])
        expect(await at(origin), origin).toEqual({ status: 201, rows: 1 });
      for (const origin of [STAND_IN, "https://push.example.com"])
        expect(await at(origin), origin).toEqual({ status: 400, rows: 0 });
    } finally {
      await defaults.close();
    }
  });
});

describe("POST /v1/devices: environment and device_id", () => {
  it("stores an APNs token's environment (production unless sandbox) and the client's device_id", async () => {
    const [me] = await users(1);
    const sandbox = await post(me!, {
      platform: "apns",
      token: apnsToken(),
      environment: "sandbox",
      device_id: "ios-1",
    });
    expect(sandbox.status).toBe(201);
    expect(sandbox.body.device).toMatchObject({ environment: "sandbox", device_id: "ios-1" });
    expect(await stored(sandbox.body.device.id)).toMatchObject({
      environment: PushEnvironment.sandbox,
      client_device_id: "ios-1",
    });
    const production = await post(me!, { platform: "apns", token: apnsToken() });
    expect(production.body.device.environment).toBe("production");
    expect((await stored(production.body.device.id))!.environment).toBe(PushEnvironment.production);
    const fcm = await post(me!, { platform: "fcm", token: fcmToken(), device_id: "android:1.2_x" });
    expect(fcm.body.device).toMatchObject({ environment: null, device_id: "android:1.2_x" });
    expect(await stored(fcm.body.device.id)).toMatchObject({ environment: null, client_device_id: "android:1.2_x" });
    // a rebuilt app re-registers its token for the other environment: the stored one follows
    const token = apnsToken();
    const first = await post(me!, { platform: "apns", token, environment: "sandbox" });
    const rebuilt = await post(me!, { platform: "apns", token, environment: "production", device_id: "ios-2" });
    expect(rebuilt.body.device.id).toBe(first.body.device.id);
    expect(await stored(first.body.device.id)).toMatchObject({
      environment: PushEnvironment.production,
      client_device_id: "ios-2",
    });
  });
});

describe("POST /v1/devices: a token registered by another user", () => {
  it("moves to the caller: the old row is retired 'moved' and keeps its delivery history", async () => {
    const [alice, bob] = await users(2);
    const token = fcmToken();
    const first = await post(alice!, { platform: "fcm", token, name: "Alice's phone", app_id: "app.one" });
    const aliceDevice = first.body.device.id;
    // something was sent to Alice on it
    const { rows: sent } = await db().query(
      `with n as (insert into push_notifications (user_id, room_id, seq, collapse_key, status)
                  values ($1, gen_random_uuid(), 1, 'room', 2) returning id)
       insert into push_delivery_logs (notification_id, device_id, platform, attempt, outcome)
       select n.id, $2, $3, 1, 1 from n returning id`,
      [alice!.id, aliceDevice, PushPlatform.fcm],
    );

    const moved = await post(bob!, { platform: "fcm", token, device_id: "bob-phone" });
    expect(moved.status).toBe(201);
    expect(moved.body.device.id).not.toBe(aliceDevice);
    expect(moved.body.device).toMatchObject({ name: null, device_id: "bob-phone" });
    const rows = await rowsOfToken(token);
    expect(rows).toHaveLength(2);
    const old = rows.find((r) => r.id === aliceDevice)!;
    expect(old).toMatchObject({ user_id: alice!.id, active: false, retired_reason: DeviceRetiredReason.moved });
    expect(old.retired_at!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(rows.find((r) => r.id === moved.body.device.id)).toMatchObject({
      user_id: bob!.id,
      active: true,
      name: null,
      app_id: null,
      retired_reason: null,
    });
    // what went to Alice still names a device that was Alice's
    const { rows: history } = await db().query(
      `select n.user_id as sent_to, d.user_id as device_owner from push_delivery_logs l
       join push_notifications n on n.id = l.notification_id join user_devices d on d.id = l.device_id where l.id = $1`,
      [sent[0].id],
    );
    expect(history).toEqual([{ sent_to: alice!.id, device_owner: alice!.id }]);
    // Bob holds it, Alice does not, and it is no longer Alice's to remove
    expect((await list(bob!)).map((d) => d.id)).toEqual([moved.body.device.id]);
    expect(await list(alice!)).toEqual([]);
    expect((await remove(alice!, aliceDevice)).status).toBe(404);
    expect((await stored(moved.body.device.id))!.active).toBe(true);
  });

  it("moves back to its first holder by reactivating their row", async () => {
    const [alice, bob] = await users(2);
    const token = apnsToken();
    const a = await post(alice!, { platform: "apns", token });
    const b = await post(bob!, { platform: "apns", token: token.toUpperCase() });
    const back = await post(alice!, { platform: "apns", token, name: "mine again" });
    expect(back.status).toBe(201);
    expect(back.body.device.id).toBe(a.body.device.id);
    expect(await stored(a.body.device.id)).toMatchObject({ active: true, retired_reason: null, retired_at: null });
    expect(await stored(b.body.device.id)).toMatchObject({
      user_id: bob!.id,
      active: false,
      retired_reason: DeviceRetiredReason.moved,
    });
    expect((await rowsOfToken(token)).filter((r) => r.active).map((r) => r.user_id)).toEqual([alice!.id]);
  });

  it(`limits moves per user: 429 rate_limited past a burst of ${MOVE_BURST}, the token staying put`, async () => {
    const owners = await users(MOVE_BURST + 1);
    const [taker, bystander] = await users(2);
    const tokens = owners.map(() => fcmToken());
    for (const [i, owner] of owners.entries())
      expect((await post(owner, { platform: "fcm", token: tokens[i] })).status).toBe(201);
    for (const token of tokens.slice(0, MOVE_BURST))
      expect((await post(taker!, { platform: "fcm", token })).status).toBe(201);
    const last = tokens[MOVE_BURST]!;
    const refused = await post(taker!, { platform: "fcm", token: last });
    expect(refused.status, JSON.stringify(refused.body)).toBe(429);
    expect(refused.body.error?.code).toBe("rate_limited");
    expect(refused.body.error?.retry_after_ms).toBeGreaterThan(60_000);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60);
    // nothing moved: the owner still holds it and the taker has no row of it
    expect((await rowsOfToken(last)).map((r) => [r.user_id, r.active, r.retired_reason])).toEqual([
      [owners[MOVE_BURST]!.id, true, null],
    ]);
    expect(await activeCount(taker!)).toBe(MOVE_BURST);
    // a new token is no move, and another user's moves have their own bucket
    expect((await post(taker!, { platform: "fcm", token: fcmToken() })).status).toBe(201);
    expect((await post(bystander!, { platform: "fcm", token: last })).status).toBe(201);
  });

  it("leaves exactly one holder when several users register one token at once", async () => {
    const contenders = await users(MOVE_BURST);
    const token = fcmToken();
    const answers = await Promise.all(contenders.map((u) => post(u, { platform: "fcm", token })));
    expect(answers.map((a) => a.status)).toEqual(contenders.map(() => 201));
    const rows = await rowsOfToken(token);
    expect(rows).toHaveLength(MOVE_BURST);
    expect(rows.filter((r) => r.active)).toHaveLength(1);
    expect(rows.filter((r) => !r.active).every((r) => r.retired_reason === DeviceRetiredReason.moved)).toBe(true);
  });
});

describe("GET /v1/devices", () => {
  it("lists the caller's active devices, oldest first, and nobody else's", async () => {
    const [me, other] = await users(2);
    const a = await post(me!, { platform: "apns", token: apnsToken(), environment: "sandbox", device_id: "ios" });
    const b = await post(me!, subscription());
    const c = await post(me!, { platform: "fcm", token: fcmToken() });
    await post(other!, { platform: "fcm", token: fcmToken() });
    expect(await remove(me!, b.body.device.id)).toMatchObject({ status: 204 });
    const devices = await list(me!);
    expect(devices).toEqual([a.body.device, c.body.device]);
    expect(devices[0]).toMatchObject({ platform: "apns", environment: "sandbox", device_id: "ios" });
    expect((await call(edge, "GET", "/v1/devices")).status).toBe(401);
  });
});

describe("logout with a device_id", () => {
  it("retires only the push tokens that device registered (reason 'logout')", async () => {
    const me = await register(edge);
    const other = await register(edge);
    const phone = await post(me, { platform: "apns", token: apnsToken(), device_id: "phone-1" });
    const phoneWeb = await post(me, { ...subscription(), device_id: "phone-1" });
    const tablet = await post(me, { platform: "fcm", token: fcmToken(), device_id: "tablet-1" });
    const unnamed = await post(me, { platform: "fcm", token: fcmToken() });
    // the same client id on someone else's account is theirs
    const others = await post(other, { platform: "fcm", token: fcmToken(), device_id: "phone-1" });

    const res = await call(edge, "POST", "/v1/auth/logout", {
      token: me.token,
      body: { refresh_token: me.refresh_token, device_id: "phone-1" },
    });
    expect(res.status).toBe(204);
    for (const d of [phone, phoneWeb]) {
      const row = await stored(d.body.device.id);
      expect(row).toMatchObject({ active: false, retired_reason: DeviceRetiredReason.logout });
      expect(row!.retired_at).not.toBeNull();
    }
    for (const d of [tablet, unnamed, others])
      expect(await stored(d.body.device.id)).toMatchObject({ active: true, retired_reason: null });
    // a logout without a device_id retires no token
    const again = await register(edge);
    const kept = await post(again, { platform: "fcm", token: fcmToken(), device_id: "phone-1" });
    expect(
      (
        await call(edge, "POST", "/v1/auth/logout", {
          token: again.token,
          body: { refresh_token: again.refresh_token },
        })
      ).status,
    ).toBe(204);
    expect((await stored(kept.body.device.id))!.active).toBe(true);
  });
});

describe("DELETE /v1/devices/:id", () => {
  it("deactivates the caller's own device, then answers 404", async () => {
    const [me] = await users(1);
    const { body } = await post(me!, { platform: "fcm", token: fcmToken() });
    const res = await remove(me!, body.device.id);
    expect(res.status).toBe(204);
    // the row stays (logical delete), saying why
    const row = await stored(body.device.id);
    expect(row).toMatchObject({ user_id: me!.id, active: false, retired_reason: DeviceRetiredReason.removed });
    expect(row!.retired_at!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const again = await remove(me!, body.device.id);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("not_found");
  });

  it("does not let one user remove another's device", async () => {
    const [owner, other] = await users(2);
    const { body } = await post(owner!, { platform: "fcm", token: fcmToken() });
    const res = await remove(other!, body.device.id);
    expect(res.status).toBe(404);
    expect((await stored(body.device.id))!.active).toBe(true);
  });

  it("answers 400 for a non-UUID id, 404 for an unknown one, 401 without a token", async () => {
    const [me] = await users(1);
    for (const id of ["42", encodeURIComponent("1' or '1'='1")]) {
      const res = await remove(me!, id);
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("invalid");
    }
    expect((await remove(me!, crypto.randomUUID())).status).toBe(404);
    const { body } = await post(me!, { platform: "fcm", token: fcmToken() });
    expect((await call(edge, "DELETE", `/v1/devices/${body.device.id}`)).status).toBe(401);
    expect((await stored(body.device.id))!.active).toBe(true);
  });
});
