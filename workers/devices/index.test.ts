import { describe, expect, it } from "vitest";
import { PushPlatform } from "../../db/index.js";
import { MAX_ACTIVE_DEVICES_PER_USER, type ErrorBody, type PublicUser } from "../../protocol/index.js";
import type { DeviceResponse } from "../../protocol/social.js";
import { call, db, register, seedUsers, tokenFor } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

type User = PublicUser & { token: string };
const edge = useEdge();

const users = (n: number) => seedUsers(n, "dev") as Promise<User[]>;
const post = (me: User, body: unknown) =>
  call<DeviceResponse & Partial<ErrorBody>>(edge, "POST", "/v1/devices", { token: me.token, body });
const remove = (me: User, id: string) => call(edge, "DELETE", `/v1/devices/${id}`, { token: me.token });
/** A fresh APNs-style token: 64 hex digits. */
const apnsToken = () => (crypto.randomUUID() + crypto.randomUUID()).replace(/-/g, "");
const fcmToken = () => `fcm:${crypto.randomUUID()}:APA91b${"x".repeat(100)}`;

async function stored(id: string) {
  const { rows } = await db().query(
    "select user_id, platform, token, p256dh, auth_secret, app_id, name, active, created_at from user_devices where id = $1",
    [id],
  );
  return rows[0] as
    | {
        user_id: string;
        platform: number;
        token: string;
        p256dh: string | null;
        auth_secret: string | null;
        app_id: string | null;
        name: string | null;
        active: boolean;
        created_at: Date;
      }
    | undefined;
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

  it("moves a token to whoever registers it last, replacing what described it", async () => {
    const [alice, bob] = await users(2);
    const token = fcmToken();
    const first = await post(alice!, { platform: "fcm", token, name: "Alice's phone", app_id: "app.one" });
    const moved = await post(bob!, { platform: "fcm", token });
    expect(moved.status).toBe(201);
    expect(moved.body.device.id).toBe(first.body.device.id);
    expect(moved.body.device.name).toBeNull();
    expect(await stored(first.body.device.id)).toMatchObject({
      user_id: bob!.id,
      active: true,
      name: null,
      app_id: null,
    });
    const { rows } = await db().query("select count(*)::int as n from user_devices where token = $1", [token]);
    expect(rows[0].n).toBe(1);
    // it is no longer Alice's to remove
    expect((await remove(alice!, first.body.device.id)).status).toBe(404);
    expect((await stored(first.body.device.id))!.active).toBe(true);
  });

  it("reactivates a removed device when it registers again", async () => {
    const [me] = await users(1);
    const token = apnsToken();
    const first = await post(me!, { platform: "apns", token });
    expect((await remove(me!, first.body.device.id)).status).toBe(204);
    const again = await post(me!, { platform: "apns", token, name: "back" });
    expect(again.body.device.id).toBe(first.body.device.id);
    expect(again.body.device.created_at).toBe(first.body.device.created_at);
    expect(await stored(first.body.device.id)).toMatchObject({ active: true, name: "back" });
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

describe("DELETE /v1/devices/:id", () => {
  it("deactivates the caller's own device, then answers 404", async () => {
    const [me] = await users(1);
    const { body } = await post(me!, { platform: "fcm", token: fcmToken() });
    const res = await remove(me!, body.device.id);
    expect(res.status).toBe(204);
    // the row stays (logical delete)
    expect(await stored(body.device.id)).toMatchObject({ user_id: me!.id, active: false });
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
