import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import webpush from "web-push";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type ConfigEnv } from "../../lib/config/index.js";
import { ApnsStandIn, apnsDeviceToken, type ApnsSigningKey } from "../../test/support/push-standins/apns.js";
import { FcmStandIn, fcmRegistrationToken } from "../../test/support/push-standins/fcm.js";
import { testTls, type TestTls } from "../../test/support/push-standins/tls.js";
import { WebPushStandIn } from "../../test/support/push-standins/webpush.js";
import { providersFromEnv, type Providers } from "./index.js";
import type { PushContent, PushTarget } from "./types.js";

const TEAM = "TEAM123456";
const TOPIC = "com.example.chat";
const PROJECT = "edge-chat-test";

let tls: TestTls;
let apple: ApnsStandIn;
let google: FcmStandIn;
let pushService: WebPushStandIn;
let apnsKey: ApnsSigningKey;
let account: Record<string, string>;
let dir: string;
const vapid = webpush.generateVAPIDKeys();
const built: Providers[] = [];

beforeAll(async () => {
  tls = await testTls();
  [apple, google, pushService] = await Promise.all([
    ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC }),
    FcmStandIn.start({ tls, projectId: PROJECT }),
    WebPushStandIn.start(tls),
  ]);
  apnsKey = await apple.newKey();
  account = await google.makeServiceAccount();
  dir = await mkdtemp(path.join(os.tmpdir(), "push-env-"));
});

afterEach(async () => {
  await Promise.all(built.splice(0).flatMap((p) => Object.values(p).map((x) => x.close())));
});

afterAll(async () => {
  await Promise.all([apple?.close(), google?.close(), pushService?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function build(env: ConfigEnv, logs: string[] = []): Providers {
  const p = providersFromEnv(env, (l) => logs.push(l), { ca: tls.ca });
  built.push(p);
  return p;
}

function liveEnv(): Record<string, string> {
  return {
    APNS_KEY_P8: apnsKey.p8,
    APNS_KEY_ID: apnsKey.keyId,
    APNS_TEAM_ID: TEAM,
    APNS_TOPIC: TOPIC,
    APNS_PRODUCTION_URL: apple.url,
    APNS_SANDBOX_URL: apple.url,
    FCM_SERVICE_ACCOUNT_JSON: JSON.stringify(account),
    FCM_API_URL: google.url,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: "https://chat.example.org/contact",
    WEBPUSH_ALLOW_ORIGINS: pushService.origin,
  };
}

const content: PushContent = {
  room_id: "room-1",
  seq: 1,
  title: "Team chat",
  body: "hello",
  count: 1,
  badge: 1,
  mentioned: false,
  collapse_key: "room-1",
  ttl_seconds: 60,
};

function targets(): Record<"apns" | "fcm" | "webpush", PushTarget> {
  const sub = pushService.subscribe({ applicationServerKey: vapid.publicKey });
  return {
    apns: { device_id: "d-apns", platform: "apns", token: apnsDeviceToken(), environment: "production" },
    fcm: { device_id: "d-fcm", platform: "fcm", token: fcmRegistrationToken() },
    webpush: {
      device_id: "d-web",
      platform: "webpush",
      token: sub.endpoint,
      p256dh: sub.keys.p256dh,
      auth: sub.keys.auth,
    },
  };
}

describe("providersFromEnv", () => {
  it("runs every provider record-only when no credentials are set, and says so", async () => {
    const logs: string[] = [];
    const providers = build({}, logs);
    const t = targets();
    for (const name of ["apns", "fcm", "webpush"] as const) {
      expect(providers[name].live).toBe(false);
      expect(providers[name].name).toBe(name);
      expect(await providers[name].send(t[name], content)).toEqual({ kind: "recorded" });
      expect(logs.some((l) => l.startsWith(`${name}: record-only`))).toBe(true);
    }
    expect(apple.records.length + google.records.length + pushService.records.length).toBe(0);
  });

  it("builds the live providers from the environment, and each delivers to its service", async () => {
    const logs: string[] = [];
    const providers = build(liveEnv(), logs);
    const t = targets();
    for (const name of ["apns", "fcm", "webpush"] as const) {
      expect(providers[name].live).toBe(true);
      expect(await providers[name].send(t[name], content)).toMatchObject({ kind: "sent" });
      expect(logs.some((l) => l.startsWith(`${name}: live`))).toBe(true);
    }
    expect(apple.records.filter((r) => r.token === t.apns.token)).toHaveLength(1);
    expect(google.records.filter((r) => r.token === t.fcm.token)).toHaveLength(1);
    expect(pushService.recordsFor(t.webpush.token)).toHaveLength(1);
  });

  it("mixes live and record-only: only the configured provider is live", () => {
    const { VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT, WEBPUSH_ALLOW_ORIGINS } = liveEnv();
    const providers = build({ VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT, WEBPUSH_ALLOW_ORIGINS });
    expect([providers.apns.live, providers.fcm.live, providers.webpush.live]).toEqual([false, false, true]);
  });

  it("reads the APNs key and the service account from files, and a .p8 with \\n escapes", async () => {
    const keyFile = path.join(dir, "AuthKey.p8");
    const accountFile = path.join(dir, "service-account.json");
    await writeFile(keyFile, apnsKey.p8);
    await writeFile(accountFile, JSON.stringify(account));
    const { APNS_KEY_P8: _p8, FCM_SERVICE_ACCOUNT_JSON: _json, ...rest } = liveEnv();
    const fromFiles = build({ ...rest, APNS_KEY_FILE: keyFile, FCM_SERVICE_ACCOUNT_FILE: accountFile });
    const t = targets();
    expect(await fromFiles.apns.send(t.apns, content)).toMatchObject({ kind: "sent" });
    expect(await fromFiles.fcm.send(t.fcm, content)).toMatchObject({ kind: "sent" });
    const escaped = build({ ...liveEnv(), APNS_KEY_P8: apnsKey.p8.trim().replace(/\n/g, "\\n") });
    expect(await escaped.apns.send(targets().apns, content)).toMatchObject({ kind: "sent" });
  });

  it("refuses a partly configured provider with a ConfigError naming what is missing", () => {
    const cases: Array<[ConfigEnv, RegExp]> = [
      [{ APNS_KEY_ID: "ABCDE12345" }, /APNs is partly configured.*APNS_KEY_P8 or APNS_KEY_FILE, APNS_TEAM_ID missing/],
      [{ APNS_KEY_P8: apnsKey.p8, APNS_KEY_ID: "ABCDE12345" }, /APNS_TEAM_ID missing/],
      [{ APNS_TOPIC: TOPIC }, /APNs is partly configured/],
      [
        { FCM_API_URL: google.url },
        /FCM is partly configured.*FCM_SERVICE_ACCOUNT_JSON or FCM_SERVICE_ACCOUNT_FILE missing/,
      ],
      [
        { VAPID_PUBLIC_KEY: vapid.publicKey },
        /Web Push is partly configured.*VAPID_PRIVATE_KEY, VAPID_SUBJECT missing/,
      ],
      [{ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey }, /VAPID_SUBJECT missing/],
    ];
    for (const [env, message] of cases) {
      expect(() => build(env), JSON.stringify(Object.keys(env))).toThrow(ConfigError);
      expect(() => build(env)).toThrow(message);
    }
  });

  it("refuses wrong values with a ConfigError", () => {
    const env = liveEnv();
    const cases: Array<[ConfigEnv, RegExp]> = [
      [{ ...env, APNS_KEY_FILE: "/nonexistent/AuthKey.p8" }, /not both/],
      [{ ...env, APNS_KEY_P8: "not a key" }, /not a PEM private key/],
      [{ ...env, APNS_KEY_P8: account.private_key! }, /EC P-256/],
      [{ ...env, APNS_TEAM_ID: "team" }, /team id/],
      [{ ...env, APNS_PRODUCTION_URL: "http://127.0.0.1:1" }, /https origin/],
      [{ ...env, FCM_SERVICE_ACCOUNT_JSON: "{not json" }, /not JSON/],
      [{ ...env, FCM_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...account, client_email: "" }) }, /client_email/],
      [{ ...env, FCM_SERVICE_ACCOUNT_JSON: undefined, FCM_SERVICE_ACCOUNT_FILE: "/nonexistent.json" }, /cannot read/],
      [{ ...env, FCM_API_URL: "https://fcm.example/v1" }, /https origin with no path/],
      [{ ...env, VAPID_PRIVATE_KEY: webpush.generateVAPIDKeys().privateKey }, /not the public key/],
      [{ ...env, VAPID_SUBJECT: "ops@example.org" }, /VAPID_SUBJECT/],
      [{ WEBPUSH_ALLOW_ORIGINS: "http://127.0.0.1:1" }, /WEBPUSH_ALLOW_ORIGINS/],
    ];
    for (const [bad, message] of cases) expect(() => build(bad), String(message)).toThrow(message);
    for (const [bad] of cases) expect(() => build(bad)).toThrow(ConfigError);
  });
});
