import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FcmStandIn, fcmRegistrationToken } from "../../test/support/push-standins/fcm.js";
import { makeTestTls, testTls, type TestTls } from "../../test/support/push-standins/tls.js";
import { freePort } from "../../test/support/ports.js";
import { FcmProvider, parseServiceAccount, type FcmOptions } from "./fcm.js";
import type { PushTarget } from "./types.js";
import { pushContent } from "../../test/support/push-standins/content.js";

const PROJECT = "edge-chat-test";
const MINUTE = 60_000;

let tls: TestTls;
let google: FcmStandIn;
let account: Record<string, string>;
let clock = Date.now();
const now = () => clock;
const open: FcmProvider[] = [];

beforeAll(async () => {
  tls = await testTls();
  google = await FcmStandIn.start({ tls, projectId: PROJECT, now });
  account = await google.makeServiceAccount();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  clock = Date.now();
});

afterAll(async () => {
  await google?.close();
});

function provider(over: Partial<FcmOptions> & { json?: Record<string, string> } = {}): FcmProvider {
  const { json = account, ...rest } = over;
  const p = new FcmProvider({
    account: parseServiceAccount(JSON.stringify(json)),
    apiUrl: google.url,
    ca: tls.ca,
    now,
    ...rest,
  });
  open.push(p);
  return p;
}

function target(over: Partial<PushTarget> = {}): PushTarget {
  return { device_id: "dev-1", platform: "fcm", token: fcmRegistrationToken(), ...over };
}

const content = pushContent;

const recordsFor = (token: string) => google.records.filter((r) => r.token === token);

describe("FCM provider against the local FCM", () => {
  it("sends a v1 message the API accepts, with the collapse key, tag, Topic and TTL of the room", async () => {
    const t = target();
    const outcome = await provider().send(t, content({ mentioned: true }));
    expect(outcome).toMatchObject({ kind: "sent", status: 200 });
    expect(outcome.kind === "sent" && outcome.id).toMatch(new RegExp(`^projects/${PROJECT}/messages/`));
    const [rec] = recordsFor(t.token);
    expect(rec!.message).toEqual({
      token: t.token,
      notification: { title: "Team chat", body: "lunch at noon?" },
      data: { room_id: "room-1", seq: "7", count: "2", badge: "5", mentioned: "true" },
      android: { collapse_key: "room-1", priority: "HIGH", ttl: "3600s", notification: { tag: "room-1" } },
      webpush: { headers: { Topic: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), TTL: "3600", Urgency: "high" } },
      apns: { headers: { "apns-collapse-id": "room-1" }, payload: { aps: { badge: 5, "thread-id": "room-1" } } },
    });
  });

  it("exchanges the service-account JWT once and shares the access token across sends", async () => {
    const p = provider();
    const before = google.tokensIssued;
    const tokens = Array.from({ length: 8 }, () => fcmRegistrationToken());
    const outcomes = await Promise.all(tokens.map((token) => p.send(target({ token }), content())));
    outcomes.push(await p.send(target({ token: tokens[0]! }), content()));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(9).fill("sent"));
    expect(google.tokensIssued - before).toBe(1);
    expect(new Set(tokens.map((t) => recordsFor(t)[0]!.bearer)).size).toBe(1);
  });

  it("renews the access token shortly before it expires, not after", async () => {
    const p = provider();
    const t = target();
    const before = google.tokensIssued;
    await p.send(t, content());
    clock += 50 * MINUTE;
    await p.send(t, content());
    expect(google.tokensIssued - before).toBe(1);
    clock += 6 * MINUTE; // 4 minutes before the hour: renewed ahead of expiry
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
    expect(google.tokensIssued - before).toBe(2);
    expect(recordsFor(t.token).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it("a 401 renews the access token once and retries inside send()", async () => {
    const p = provider();
    const t = target();
    await p.send(target(), content());
    const before = google.tokensIssued;
    google.program(t.token, { kind: "expire-bearer" });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent", status: 200 });
    expect(google.tokensIssued - before).toBe(1);
    const [first, second] = recordsFor(t.token);
    expect([first!.status, second!.status]).toEqual([401, 200]);
    expect(first!.bearer).not.toBe(second!.bearer);
  });

  it("a 401 that persists after the renewal is a configuration fault", async () => {
    const t = target();
    google.program(t.token, { kind: "expire-bearer" }, { kind: "expire-bearer" });
    const outcome = await provider().send(t, content());
    expect(outcome).toMatchObject({ kind: "config", status: 401 });
    expect(recordsFor(t.token)).toHaveLength(2);
  });

  it("a key Google never issued is a configuration fault, and no message is sent", async () => {
    const unknown = await google.makeServiceAccount({ known: false });
    const t = target();
    const refusedBefore = google.tokensRefused;
    const outcome = await provider({ json: unknown }).send(t, content());
    expect(outcome).toMatchObject({ kind: "config", status: 400 });
    expect(outcome.kind === "config" && outcome.reason).toMatch(/invalid_grant/);
    expect(google.tokensRefused - refusedBefore).toBe(1);
    expect(recordsFor(t.token)).toHaveLength(0);
  });

  it("an outage of the token endpoint is a retry (honouring Retry-After), and the next send exchanges again", async () => {
    const p = provider();
    const t = target();
    google.programTokenEndpoint({ status: 503, retryAfter: 20 });
    expect(await p.send(t, content())).toMatchObject({
      kind: "retry",
      status: 503,
      retry_after_ms: 20_000,
      reason: expect.stringMatching(/token exchange/),
    });
    expect(recordsFor(t.token)).toHaveLength(0);
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
  });

  it("a short-lived access token is renewed halfway through its life", async () => {
    const brief = await FcmStandIn.start({ tls, projectId: PROJECT, now, expiresIn: 120 });
    try {
      const json = await brief.makeServiceAccount();
      const p = provider({ json, apiUrl: brief.url });
      await p.send(target(), content());
      clock += 50_000;
      await p.send(target(), content());
      expect(brief.tokensIssued).toBe(1);
      clock += 20_000;
      expect(await p.send(target(), content())).toMatchObject({ kind: "sent" });
      expect(brief.tokensIssued).toBe(2);
    } finally {
      await brief.close();
    }
  });

  it("404 UNREGISTERED retires the token", async () => {
    const t = target();
    google.program(t.token, { kind: "unregistered" });
    expect(await provider().send(t, content())).toMatchObject({
      kind: "retire",
      status: 404,
      reason: expect.stringMatching(/^UNREGISTERED/),
    });
  });

  it("400 INVALID_ARGUMENT retires only when its details say the token is bad", async () => {
    const p = provider();
    const bad = target();
    google.program(bad.token, { kind: "invalid-token" });
    expect(await p.send(bad, content())).toMatchObject({ kind: "retire", status: 400 });
    const other = target();
    google.program(other.token, { kind: "invalid-argument", field: "message.android.notification.color" });
    expect(await p.send(other, content())).toMatchObject({ kind: "failed", status: 400 });
  });

  it("SENDER_ID_MISMATCH and THIRD_PARTY_AUTH_ERROR are configuration faults, never retirements", async () => {
    const p = provider();
    const a = target();
    const b = target();
    google.program(a.token, { kind: "sender-id-mismatch" });
    google.program(b.token, { kind: "third-party-auth" });
    expect(await p.send(a, content())).toMatchObject({
      kind: "config",
      status: 403,
      reason: expect.stringMatching(/^SENDER_ID_MISMATCH/),
    });
    const before = google.tokensIssued;
    expect(await p.send(b, content())).toMatchObject({
      kind: "config",
      status: 401,
      reason: expect.stringMatching(/^THIRD_PARTY_AUTH_ERROR/),
    });
    // THIRD_PARTY_AUTH_ERROR is a 401 about APNs/Web Push credentials: no renewal, no second try
    expect(google.tokensIssued).toBe(before);
    expect(recordsFor(b.token)).toHaveLength(1);
  });

  it("429 QUOTA_EXCEEDED is a quota retry after Retry-After; 500 and 503 are retries", async () => {
    const p = provider();
    const t = target();
    google.program(
      t.token,
      { kind: "quota", retryAfter: 60 },
      { kind: "internal" },
      { kind: "unavailable", retryAfter: 5 },
    );
    expect(await p.send(t, content())).toMatchObject({
      kind: "retry",
      status: 429,
      quota: true,
      retry_after_ms: 60_000,
    });
    const internal = await p.send(t, content());
    expect(internal).toMatchObject({ kind: "retry", status: 500 });
    expect(internal.kind === "retry" && internal.quota).toBeFalsy();
    expect(await p.send(t, content())).toMatchObject({ kind: "retry", status: 503, retry_after_ms: 5_000 });
    expect(await p.send(t, content())).toMatchObject({ kind: "sent" });
  });

  it("other 4xx fail that message without a retry", async () => {
    const t = target();
    google.program(t.token, {
      kind: "status",
      status: 413,
      body: { error: { code: 413, status: "PAYLOAD_TOO_LARGE" } },
    });
    expect(await provider().send(t, content())).toMatchObject({ kind: "failed", status: 413 });
  });

  it("a wrong project id is refused by FCM: a configuration fault", async () => {
    const other = await google.makeServiceAccount({ projectId: "another-project" });
    expect(await provider({ json: other }).send(target(), content())).toMatchObject({ kind: "config", status: 403 });
  });

  it("cuts a 10,000-character multi-byte preview to fit FCM's 4 KB, every data value a string", async () => {
    const t = target();
    const preview = "naïve café 🍕 日本語テキスト ".repeat(600).slice(0, 10_000);
    expect(
      await provider()
        .send(t, content({ body: preview }))
        .then((o) => o.kind),
    ).toBe("sent");
    const { message } = recordsFor(t.token)[0]!;
    const body = message.notification!.body!;
    expect(body.endsWith("…")).toBe(true);
    expect(preview.startsWith(body.slice(0, -1))).toBe(true);
    // no half of a surrogate pair left behind (it would turn into U+FFFD on the way)
    expect(Buffer.from(body, "utf8").toString("utf8")).toBe(body);
    const size = Buffer.byteLength(JSON.stringify({ notification: message.notification, data: message.data }));
    expect(size).toBeLessThanOrEqual(4096);
    expect(size).toBeGreaterThan(4096 - 16);
  });

  it("gives every notification of a room the same collapse key, tag, Topic and apns-collapse-id", async () => {
    const p = provider();
    const t = target();
    await p.send(t, content({ seq: 1 }));
    await p.send(t, content({ seq: 2 }));
    await p.send(t, content({ seq: 3, room_id: "room-2", collapse_key: "room-2" }));
    const ids = recordsFor(t.token).map(({ message: m }) =>
      [
        m.android!.collapse_key,
        m.android!.notification!.tag,
        m.webpush!.headers!.Topic,
        m.apns!.headers!["apns-collapse-id"],
      ].join("|"),
    );
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it("a connection fault is a retry, and the certificate is verified (an untrusted server gets nothing)", async () => {
    const rogue = await FcmStandIn.start({ tls: await makeTestTls("rogue"), projectId: PROJECT, now });
    try {
      const json = await rogue.makeServiceAccount();
      const outcome = await provider({ json, apiUrl: rogue.url }).send(target(), content());
      expect(outcome).toMatchObject({ kind: "retry", status: 0 });
      expect(outcome.kind === "retry" && outcome.reason).toMatch(/certificate|self.signed|issuer/i);
      expect(rogue.tokensIssued + rogue.tokensRefused + rogue.records.length).toBe(0);
    } finally {
      await rogue.close();
    }
    const nobody = `https://127.0.0.1:${await freePort()}`;
    expect(await provider({ apiUrl: nobody }).send(target(), content())).toMatchObject({ kind: "retry", status: 0 });
  });

  it("refuses a service account without what the exchange needs", () => {
    expect(() => parseServiceAccount("{")).toThrow(/not JSON/);
    expect(() => parseServiceAccount(JSON.stringify({ ...account, token_uri: "http://oauth2.example/token" }))).toThrow(
      /token_uri/,
    );
    const { private_key: _omit, ...noKey } = account;
    expect(() => parseServiceAccount(JSON.stringify(noKey))).toThrow(/private_key/);
    expect(() => provider({ json: { ...account, private_key: "not a key" } })).toThrow(/private_key/);
  });
});
