import webpush from "web-push";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import { pushOriginRule } from "../../lib/push-origins/index.js";
import { makeTestTls, testTls, type TestTls } from "../../test/support/push-standins/tls.js";
import { WebPushStandIn, type BrowserSubscription } from "../../test/support/push-standins/webpush.js";
import type { PushTarget } from "./types.js";
import { checkVapidKeys, WebPushProvider, type WebPushOptions } from "./webpush.js";
import { pushContent } from "../../test/support/push-standins/content.js";

let tls: TestTls;
let service: WebPushStandIn;
const vapid = { subject: "mailto:ops@example.org", ...webpush.generateVAPIDKeys() };
const open: WebPushProvider[] = [];

beforeAll(async () => {
  tls = await testTls();
  service = await WebPushStandIn.start(tls);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await service?.close();
});

function provider(over: Partial<WebPushOptions> = {}): WebPushProvider {
  const p = new WebPushProvider({ vapid, allow: pushOriginRule(service.origin), ca: tls.ca, ...over });
  open.push(p);
  return p;
}

function target(sub: BrowserSubscription = service.subscribe({ applicationServerKey: vapid.publicKey })): PushTarget {
  return { device_id: "dev-1", platform: "webpush", token: sub.endpoint, p256dh: sub.keys.p256dh, auth: sub.keys.auth };
}

const content = pushContent;

describe("Web Push provider against a local push service", () => {
  it("delivers a VAPID-signed, aes128gcm-encrypted payload the subscriber decrypts to what was sent", async () => {
    const t = target();
    const outcome = await provider().send(t, content());
    expect(outcome).toMatchObject({ kind: "sent", status: 201 });
    expect(outcome.kind === "sent" && outcome.id).toMatch(new RegExp(`^${service.origin}/message/`));
    const [rec] = service.recordsFor(t.token);
    expect(JSON.parse(rec!.plaintext)).toEqual({
      title: "Team chat",
      body: "lunch at noon?",
      room_id: "room-1",
      seq: 7,
      count: 2,
      badge: 5,
      mentioned: false,
      tag: "room-1",
    });
    expect(rec!.headers).toMatchObject({ ttl: "3600", urgency: "normal", "content-encoding": "aes128gcm" });
    expect(rec!.headers.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(rec!.claims).toMatchObject({ aud: service.origin, sub: "mailto:ops@example.org" });
  });

  it("signs one VAPID token per push service and reuses it until an hour before it expires", async () => {
    let now = Date.now();
    const p = provider({ now: () => now });
    const [a, b] = [target(), target()];
    await p.send(a, content());
    await p.send(b, content());
    const first = service.recordsFor(a.token)[0]!;
    expect(service.recordsFor(b.token)[0]!.headers.authorization).toBe(first.headers.authorization);
    const exp = first.claims.exp as number;
    expect(exp - Math.floor(now / 1000)).toBeLessThanOrEqual(24 * 3600);
    now += (exp - Math.floor(now / 1000) - 3600 + 5) * 1000; // within the last hour of its life
    const c = target();
    await p.send(c, content());
    const renewed = service.recordsFor(c.token)[0]!;
    expect(renewed.headers.authorization).not.toBe(first.headers.authorization);
    expect(renewed.claims.exp as number).toBeGreaterThan(exp);
  });

  it("marks a mention urgent", async () => {
    const t = target();
    await provider().send(t, content({ mentioned: true }));
    expect(service.recordsFor(t.token)[0]!.headers.urgency).toBe("high");
  });

  it("a subscription made for another VAPID key is refused by the push service (403): failed, not retired", async () => {
    const other = webpush.generateVAPIDKeys();
    const t = target(service.subscribe({ applicationServerKey: other.publicKey }));
    expect(await provider().send(t, content())).toMatchObject({ kind: "failed", status: 403 });
    expect(service.refusals.at(-1)?.why).toMatch(/applicationServerKey/);
  });

  it("404 and 410 retire the subscription", async () => {
    const p = provider();
    const gone = target();
    const missing = target();
    service.program(gone.token, { status: 410 });
    service.program(missing.token, { status: 404 });
    expect(await p.send(gone, content())).toMatchObject({ kind: "retire", status: 410 });
    expect(await p.send(missing, content())).toMatchObject({ kind: "retire", status: 404 });
  });

  it("429 and 5xx are retries, honouring Retry-After", async () => {
    const p = provider();
    const t = target();
    service.program(t.token, { status: 429, retryAfter: 45 }, { status: 500 }, { status: 503, retryAfter: 3 });
    expect(await p.send(t, content())).toMatchObject({ kind: "retry", status: 429, retry_after_ms: 45_000 });
    const plain = await p.send(t, content());
    expect(plain).toMatchObject({ kind: "retry", status: 500 });
    expect(plain.kind === "retry" && plain.retry_after_ms).toBeUndefined();
    expect(await p.send(t, content())).toMatchObject({ kind: "retry", status: 503, retry_after_ms: 3_000 });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
  });

  it("413 and other 4xx fail that message without a retry", async () => {
    const p = provider();
    const t = target();
    service.program(t.token, { status: 413 }, { status: 400 });
    expect(await p.send(t, content())).toMatchObject({ kind: "failed", status: 413 });
    expect(await p.send(t, content())).toMatchObject({ kind: "failed", status: 400 });
  });

  it("an endpoint off the allow-list never reaches any server, and is retired: it can never be sent to", async () => {
    const elsewhere = await WebPushStandIn.start(tls);
    try {
      const t = target(elsewhere.subscribe());
      const outcome = await provider().send(t, content());
      expect(outcome).toEqual({ kind: "retire", status: 0, reason: "endpoint_not_allowed" });
      // http: on an allowed host and port is refused too
      const plain = { ...t, token: t.token.replace("https:", "http:") };
      expect(await provider({ allow: pushOriginRule(elsewhere.origin) }).send(plain, content())).toEqual({
        kind: "retire",
        status: 0,
        reason: "endpoint_not_allowed",
      });
      expect(elsewhere.connections).toBe(0);
    } finally {
      await elsewhere.close();
    }
  });

  it("an untrusted certificate gets nothing (TLS is verified); a transport fault is a retry", async () => {
    const rogue = await WebPushStandIn.start(await makeTestTls("rogue"));
    try {
      const t = target(rogue.subscribe());
      const outcome = await provider({ allow: pushOriginRule(rogue.origin) }).send(t, content());
      expect(outcome).toMatchObject({ kind: "retry", status: 0 });
      expect(outcome.kind === "retry" && outcome.reason).toMatch(/certificate|self.signed|issuer/i);
      expect(rogue.records).toHaveLength(0);
    } finally {
      await rogue.close();
    }
  });

  it("a subscription with broken keys fails without a request", async () => {
    const t = { ...target(), p256dh: "AAAA" };
    const before = service.connections;
    expect(await provider().send(t, content())).toMatchObject({ kind: "failed", status: 0 });
    const { p256dh: _drop, ...noKeys } = target();
    expect(await provider().send(noKeys, content())).toMatchObject({
      kind: "failed",
      reason: "subscription has no keys",
    });
    expect(service.connections).toBe(before);
  });

  it("cuts a 10,000-character multi-byte preview so the plaintext is valid JSON within ~3 KB", async () => {
    const t = target();
    const preview = "Grüße 👋🏽 مرحبا \\ ".repeat(700).slice(0, 10_000);
    expect(
      await provider()
        .send(t, content({ body: preview }))
        .then((o) => o.kind),
    ).toBe("sent");
    const { plaintext } = service.recordsFor(t.token)[0]!;
    const size = Buffer.byteLength(plaintext);
    expect(size).toBeLessThanOrEqual(3072);
    expect(size).toBeGreaterThan(3072 - 16);
    const body = (JSON.parse(plaintext) as { body: string }).body;
    expect(body.endsWith("…")).toBe(true);
    expect(preview.startsWith(body.slice(0, -1))).toBe(true);
    // no half of a surrogate pair left behind (it would turn into U+FFFD on the way)
    expect(Buffer.from(body, "utf8").toString("utf8")).toBe(body);
  });

  it("gives every push of a room the same Topic (at most 32 base64url characters)", async () => {
    const p = provider();
    const t = target();
    await p.send(t, content({ seq: 1 }));
    await p.send(t, content({ seq: 2 }));
    await p.send(t, content({ seq: 3, collapse_key: "room-2", room_id: "room-2" }));
    const topics = service.recordsFor(t.token).map((r) => String(r.headers.topic));
    expect(topics[0]).toBe(topics[1]);
    expect(topics[2]).not.toBe(topics[0]);
    for (const topic of topics) expect(topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
  });

  it("checks the VAPID keys at start", () => {
    expect(() => checkVapidKeys(vapid)).not.toThrow();
    const other = webpush.generateVAPIDKeys();
    expect(() => checkVapidKeys({ ...vapid, privateKey: other.privateKey })).toThrow(/not the public key/);
    expect(() => checkVapidKeys({ ...vapid, subject: "ops@example.org" })).toThrow(ConfigError);
    expect(() => checkVapidKeys({ ...vapid, subject: "http://example.org" })).toThrow(/mailto: or https:/);
    expect(() => checkVapidKeys({ ...vapid, publicKey: "abc" })).toThrow(/VAPID_PUBLIC_KEY/);
    expect(() => checkVapidKeys({ ...vapid, privateKey: "abc" })).toThrow(/VAPID_PRIVATE_KEY/);
  });
});
