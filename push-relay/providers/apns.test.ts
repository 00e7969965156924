import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApnsStandIn, apnsDeviceToken, type ApnsSigningKey } from "../../test/support/push-standins/apns.js";
import { makeTestTls, testTls, type TestTls } from "../../test/support/push-standins/tls.js";
import { freePort } from "../../test/support/ports.js";
import { ApnsProvider, type ApnsOptions } from "./apns.js";
import type { PushTarget } from "./types.js";
import { pushContent } from "../../test/support/push-standins/content.js";

const TEAM = "TEAM123456";
const TOPIC = "com.example.chat";
const MINUTE = 60_000;

let tls: TestTls;
let apple: ApnsStandIn;
let sandbox: ApnsStandIn;
let key: ApnsSigningKey;
let clock = Date.now();
const now = () => clock;
const open: ApnsProvider[] = [];
const logs: string[] = [];

beforeAll(async () => {
  tls = await testTls();
  apple = await ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC, now });
  sandbox = await ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC, now });
  key = await apple.newKey();
  sandbox.trust(key);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  clock = Date.now();
});

afterAll(async () => {
  await Promise.all([apple?.close(), sandbox?.close()]);
});

function provider(over: Partial<ApnsOptions> = {}): ApnsProvider {
  const p = new ApnsProvider({
    key: key.p8,
    keyId: key.keyId,
    teamId: TEAM,
    topic: TOPIC,
    productionUrl: apple.url,
    sandboxUrl: sandbox.url,
    ca: tls.ca,
    now,
    log: (l) => logs.push(l),
    ...over,
  });
  open.push(p);
  return p;
}

function target(over: Partial<PushTarget> = {}): PushTarget {
  return { device_id: "dev-1", platform: "apns", token: apnsDeviceToken(), environment: "production", ...over };
}

const content = pushContent;

const recordsFor = (s: ApnsStandIn, token: string) => s.records.filter((r) => r.token === token);

describe("APNs provider against the local APNs", () => {
  it("delivers an alert with the headers and payload Apple checks", async () => {
    const t = target();
    const outcome = await provider().send(t, content());
    expect(outcome).toMatchObject({ kind: "sent", status: 200 });
    const [rec] = recordsFor(apple, t.token);
    expect(outcome.kind === "sent" && outcome.id).toBe(rec!.apnsId);
    expect(rec!.headers).toMatchObject({
      "apns-topic": TOPIC,
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(Math.floor(clock / 1000) + 3600),
      "apns-collapse-id": "room-1",
    });
    expect(rec!.payload).toEqual({
      aps: { alert: { title: "Team chat", body: "lunch at noon?" }, badge: 5, sound: "default", "thread-id": "room-1" },
      room_id: "room-1",
      seq: 7,
      count: 2,
    });
  });

  it("uses the device's own app id as the topic when it registered one", async () => {
    const t = target({ app_id: TOPIC });
    expect(await provider({ topic: "com.example.unused" }).send(t, content())).toMatchObject({ kind: "sent" });
    expect(recordsFor(apple, t.token)[0]!.headers["apns-topic"]).toBe(TOPIC);
  });

  it("reuses one provider token and one connection across many sends", async () => {
    const p = provider();
    const jwtsBefore = apple.distinctJwts;
    const sessionsBefore = apple.sessionCount;
    const tokens = Array.from({ length: 6 }, () => apnsDeviceToken());
    const outcomes = await Promise.all(tokens.map((token) => p.send(target({ token }), content())));
    outcomes.push(await p.send(target({ token: tokens[0]! }), content()));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(7).fill("sent"));
    expect(apple.distinctJwts - jwtsBefore).toBe(1);
    expect(apple.sessionCount - sessionsBefore).toBe(1);
  });

  it("renews the provider token after ~50 minutes and not before (Apple throttles renewals under 20 minutes)", async () => {
    const p = provider();
    const t = target();
    const before = apple.distinctJwts;
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    clock += 30 * MINUTE;
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    expect(apple.distinctJwts - before).toBe(1);
    clock += 21 * MINUTE;
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    expect(apple.distinctJwts - before).toBe(2);
    clock += 55 * MINUTE; // over an hour after the second token: Apple would refuse it
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    expect(apple.distinctJwts - before).toBe(3);
    const jwts = recordsFor(apple, t.token).map((r) => r.jwt);
    expect(jwts[0]).toBe(jwts[1]);
    expect(new Set(jwts).size).toBe(3);
  });

  it("answers ExpiredProviderToken: renews the token once and retries the request inside send()", async () => {
    const p = provider();
    const t = target();
    apple.program(t.token, { status: 403, reason: "ExpiredProviderToken" });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent", status: 200 });
    const recs = recordsFor(apple, t.token);
    expect(recs.map((r) => r.status)).toEqual([403, 200]);
    expect(recs[0]!.jwt).not.toBe(recs[1]!.jwt);
    // the renewed token is the one kept
    const u = target();
    expect(await p.send(u, content())).toMatchObject({ kind: "sent" });
    expect(recordsFor(apple, u.token)[0]!.jwt).toBe(recs[1]!.jwt);
  });

  it("renews after a refusal at most once per 20 minutes (Apple's throttle), then again after it", async () => {
    const p = provider();
    const t = target();
    apple.program(t.token, { status: 403, reason: "ExpiredProviderToken" });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    apple.program(t.token, { status: 403, reason: "ExpiredProviderToken" });
    expect(await p.send(t, content())).toEqual({ kind: "config", status: 403, reason: "ExpiredProviderToken" });
    clock += 21 * MINUTE;
    apple.program(t.token, { status: 403, reason: "ExpiredProviderToken" });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    expect(recordsFor(apple, t.token).map((r) => r.status)).toEqual([403, 200, 403, 403, 200]);
    expect(new Set(recordsFor(apple, t.token).map((r) => r.jwt)).size).toBe(3);
  });

  it("a token Apple still refuses after the renewal is a configuration fault (one renewal, one retry)", async () => {
    const skewed = await ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC, now: () => clock + 2 * 60 * MINUTE });
    try {
      skewed.trust(key);
      const p = provider({ productionUrl: skewed.url });
      const t = target();
      expect(await p.send(t, content())).toEqual({ kind: "config", status: 403, reason: "ExpiredProviderToken" });
      expect(recordsFor(skewed, t.token)).toHaveLength(2);
      expect(skewed.distinctJwts).toBe(2);
    } finally {
      await skewed.close();
    }
  });

  it("a key id Apple does not know is a configuration fault", async () => {
    const p = provider({ keyId: "NOSUCHKEY0" });
    expect(await p.send(target(), content())).toEqual({ kind: "config", status: 403, reason: "InvalidProviderToken" });
  });

  it("410 Unregistered retires the token", async () => {
    const t = target();
    apple.program(t.token, { status: 410, reason: "Unregistered" });
    expect(await provider().send(t, content())).toEqual({ kind: "retire", status: 410, reason: "Unregistered" });
  });

  it("400 BadDeviceToken retires the token and says the environment may not match", async () => {
    const t = target({ environment: "sandbox" });
    sandbox.program(t.token, { status: 400, reason: "BadDeviceToken" });
    const outcome = await provider().send(t, content());
    expect(outcome).toMatchObject({ kind: "retire", status: 400 });
    expect(outcome.kind === "retire" && outcome.reason).toMatch(/BadDeviceToken.*sandbox.*environment mismatch/);
    expect(recordsFor(sandbox, t.token)).toHaveLength(1);
    expect(recordsFor(apple, t.token)).toHaveLength(0);
  });

  it("sends sandbox and production tokens to their own gateways over their own connections", async () => {
    const p = provider();
    const prod = target();
    const dev = target({ environment: "sandbox" });
    expect((await Promise.all([p.send(prod, content()), p.send(dev, content())])).map((o) => o.kind)).toEqual([
      "sent",
      "sent",
    ]);
    expect(recordsFor(apple, prod.token)).toHaveLength(1);
    expect(recordsFor(sandbox, dev.token)).toHaveLength(1);
    // one provider token for the team, whichever gateway
    expect(recordsFor(sandbox, dev.token)[0]!.jwt).toBe(recordsFor(apple, prod.token)[0]!.jwt);
  });

  it("DeviceTokenNotForTopic and TopicDisallowed are configuration faults, never retirements", async () => {
    const p = provider();
    const wrongApp = target({ app_id: "com.example.other" });
    expect(await p.send(wrongApp, content())).toEqual({
      kind: "config",
      status: 400,
      reason: "DeviceTokenNotForTopic",
    });
    const t = target();
    apple.program(t.token, { status: 400, reason: "TopicDisallowed" });
    expect(await p.send(t, content())).toEqual({ kind: "config", status: 400, reason: "TopicDisallowed" });
  });

  it("no topic at all is a configuration fault without a request", async () => {
    const t = target();
    const p = provider({ topic: undefined });
    expect(await p.send(t, content())).toMatchObject({ kind: "config" });
    expect(recordsFor(apple, t.token)).toHaveLength(0);
  });

  it("retries 429 and 5xx, honouring Retry-After; TooManyRequests is one device, not a quota", async () => {
    const p = provider();
    const t = target();
    apple.program(
      t.token,
      { status: 429, reason: "TooManyRequests", retryAfter: 30 },
      { status: 500, reason: "InternalServerError" },
      { status: 503, reason: "ServiceUnavailable", retryAfter: 120 },
    );
    expect(await p.send(t, content())).toEqual({
      kind: "retry",
      status: 429,
      reason: "TooManyRequests",
      retry_after_ms: 30_000,
    });
    expect(await p.send(t, content())).toEqual({ kind: "retry", status: 500, reason: "InternalServerError" });
    expect(await p.send(t, content())).toEqual({
      kind: "retry",
      status: 503,
      reason: "ServiceUnavailable",
      retry_after_ms: 120_000,
    });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
  });

  it("TooManyProviderTokenUpdates throttles the whole provider: a quota retry", async () => {
    const t = target();
    apple.program(t.token, { status: 429, reason: "TooManyProviderTokenUpdates" });
    expect(await provider().send(t, content())).toEqual({
      kind: "retry",
      status: 429,
      reason: "TooManyProviderTokenUpdates",
      quota: true,
    });
  });

  it("other 4xx fail that message without a retry", async () => {
    const t = target();
    apple.program(t.token, { status: 413, reason: "PayloadTooLarge" }, { status: 400, reason: "BadExpirationDate" });
    const p = provider();
    expect(await p.send(t, content())).toEqual({ kind: "failed", status: 413, reason: "PayloadTooLarge" });
    expect(await p.send(t, content())).toEqual({ kind: "failed", status: 400, reason: "BadExpirationDate" });
  });

  it("a token that is not hex is retired without a request (it could not name a path)", async () => {
    const before = apple.records.length;
    const outcome = await provider().send(target({ token: "../../3/device/x" }), content());
    expect(outcome).toMatchObject({ kind: "retire", status: 400 });
    expect(apple.records.length).toBe(before);
  });

  it("a connection fault is a retry, and the certificate is verified (an untrusted server gets nothing)", async () => {
    const rogue = await ApnsStandIn.start({ tls: await makeTestTls("rogue"), teamId: TEAM, topic: TOPIC, now });
    try {
      rogue.trust(key);
      const untrusted = await provider({ productionUrl: rogue.url }).send(target(), content());
      expect(untrusted).toMatchObject({ kind: "retry", status: 0 });
      expect(untrusted.kind === "retry" && untrusted.reason).toMatch(/certificate|self.signed|issuer/i);
      expect(rogue.records).toHaveLength(0);
    } finally {
      await rogue.close();
    }
    const nobody = `https://127.0.0.1:${await freePort()}`;
    expect(await provider({ productionUrl: nobody }).send(target(), content())).toMatchObject({
      kind: "retry",
      status: 0,
    });
  });

  it("a gateway that does not answer in time is a retry", async () => {
    const t = target();
    apple.program(t.token, { status: 200, hang: true });
    const started = Date.now();
    const outcome = await provider({ requestTimeoutMs: 200 }).send(t, content());
    expect(outcome).toMatchObject({ kind: "retry", status: 0 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("after GOAWAY the next send opens a new session and succeeds", async () => {
    const p = provider();
    const t = target();
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    const first = recordsFor(apple, t.token)[0]!.session;
    apple.goaway();
    await apple.allSessionsClosed();
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    const second = recordsFor(apple, t.token)[1]!.session;
    expect(second).not.toBe(first);
    expect(logs.some((l) => l.includes("GOAWAY"))).toBe(true);
  });

  it("pings the connection periodically", async () => {
    const p = provider({ pingIntervalMs: 40 });
    const before = apple.pings;
    expect(await p.send(target(), content())).toMatchObject({ kind: "sent" });
    // several intervals, with room for a busy machine
    const deadline = Date.now() + 5_000;
    while (apple.pings - before < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 40));
    expect(apple.pings - before).toBeGreaterThanOrEqual(3);
  });

  it("cuts a 10,000-character multi-byte preview to fit 4096 bytes, keeping the JSON whole", async () => {
    const t = target();
    const preview = 'héllo wörld 🎉 世界 "quoted" '.repeat(400).slice(0, 10_000);
    expect(
      await provider()
        .send(t, content({ body: preview }))
        .then((o) => o.kind),
    ).toBe("sent");
    const rec = recordsFor(apple, t.token)[0]!;
    expect(rec.bytes).toBeLessThanOrEqual(4096);
    expect(rec.bytes).toBeGreaterThan(4096 - 16);
    const body = (rec.payload as { aps: { alert: { body: string } } }).aps.alert.body;
    expect(body.endsWith("…")).toBe(true);
    expect(preview.startsWith(body.slice(0, -1))).toBe(true);
    // no half of a surrogate pair left behind (it would turn into U+FFFD on the way)
    expect(Buffer.from(body, "utf8").toString("utf8")).toBe(body);
  });

  it("gives every notification of a room the same collapse id, at most 64 bytes", async () => {
    const p = provider();
    const t = target();
    const long = "room-" + "é".repeat(80);
    await p.send(t, content({ collapse_key: "room-A", seq: 1 }));
    await p.send(t, content({ collapse_key: "room-A", seq: 2 }));
    await p.send(t, content({ collapse_key: "room-B", seq: 3 }));
    await p.send(t, content({ collapse_key: long, seq: 4 }));
    await p.send(t, content({ collapse_key: long, seq: 5 }));
    const ids = recordsFor(apple, t.token).map((r) => String(r.headers["apns-collapse-id"]));
    expect(recordsFor(apple, t.token).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(ids[3]).toBe(ids[4]);
    expect(ids[3]).not.toBe(long);
    expect(Buffer.byteLength(ids[3]!)).toBeLessThanOrEqual(64);
  });

  it("never throws: a closed provider answers retry", async () => {
    const p = provider();
    await p.close();
    expect(await p.send(target(), content())).toMatchObject({ kind: "retry", status: 0 });
  });
});
