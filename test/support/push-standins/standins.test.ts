// The stand-ins are the only fakes the push tests use, so they must refuse what Apple's, Google's
// and the browsers' push services refuse: raw requests, each wrong in one way, prove they do.
import http2 from "node:http2";
import https from "node:https";
import { SignJWT, exportPKCS8, generateKeyPair, importPKCS8 } from "jose";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApnsStandIn, apnsDeviceToken, type ApnsSigningKey } from "./apns.js";
import { FCM_SCOPE, FcmStandIn, fcmRegistrationToken } from "./fcm.js";
import { testTls, type TestTls } from "./tls.js";
import { WebPushStandIn } from "./webpush.js";

const TEAM = "TEAM123456";
const TOPIC = "com.example.chat";
const PROJECT = "standin-project";

let tls: TestTls;
let apple: ApnsStandIn;
let google: FcmStandIn;
let pushService: WebPushStandIn;
let key: ApnsSigningKey;

beforeAll(async () => {
  tls = await testTls();
  [apple, google, pushService] = await Promise.all([
    ApnsStandIn.start({ tls, teamId: TEAM, topic: TOPIC }),
    FcmStandIn.start({ tls, projectId: PROJECT }),
    WebPushStandIn.start(tls),
  ]);
  key = await apple.newKey();
});

afterAll(async () => {
  await Promise.all([apple?.close(), google?.close(), pushService?.close()]);
});

async function appleJwt(opts: { iat?: number; iss?: string; p8?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? key.keyId })
    .setIssuer(opts.iss ?? TEAM)
    .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
    .sign(await importPKCS8(opts.p8 ?? key.p8, "ES256"));
}

/** Requests on one HTTP/2 connection, as a provider would make them. */
async function withApple<T>(
  fn: (
    post: (h: http2.OutgoingHttpHeaders, body: string) => Promise<{ status: number; reason?: string }>,
  ) => Promise<T>,
): Promise<T> {
  const session = http2.connect(apple.url, { ca: tls.ca });
  session.on("error", () => {});
  const post = (h: http2.OutgoingHttpHeaders, body: string) =>
    new Promise<{ status: number; reason?: string }>((resolve, reject) => {
      const s = session.request({ ":method": "POST", ":path": `/3/device/${apnsDeviceToken()}`, ...h });
      let status = 0;
      let text = "";
      s.on("response", (r) => (status = Number(r[":status"])));
      s.on("data", (c: Buffer) => (text += c.toString()));
      s.on("end", () =>
        resolve({ status, ...(text ? { reason: (JSON.parse(text) as { reason: string }).reason } : {}) }),
      );
      s.on("error", reject);
      s.end(body);
    });
  try {
    return await fn(post);
  } finally {
    session.close();
  }
}

const alert = JSON.stringify({ aps: { alert: { title: "t", body: "b" } } });
const appleHeaders = (jwt: string) => ({
  authorization: `bearer ${jwt}`,
  "apns-topic": TOPIC,
  "apns-push-type": "alert",
});

describe("the APNs stand-in checks what Apple checks", () => {
  it("accepts a well-formed request", async () => {
    const jwt = await appleJwt();
    expect(await withApple((post) => post(appleHeaders(jwt), alert))).toEqual({ status: 200 });
  });

  it("refuses provider tokens that are forged, foreign, stale or from the future", async () => {
    const other = await exportPKCS8((await generateKeyPair("ES256", { extractable: true })).privateKey);
    const nowS = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string]> = [
      [await appleJwt({ p8: other }), "InvalidProviderToken"], // signed by another key under our kid
      [await appleJwt({ iss: "OTHERTEAM1" }), "InvalidProviderToken"],
      [await appleJwt({ kid: "UNKNOWN000" }), "InvalidProviderToken"],
      [await appleJwt({ iat: nowS - 3700 }), "ExpiredProviderToken"],
      [await appleJwt({ iat: nowS + 600 }), "InvalidProviderToken"],
    ];
    for (const [jwt, reason] of cases)
      expect(await withApple((post) => post(appleHeaders(jwt), alert))).toEqual({ status: 403, reason });
    expect(await withApple((post) => post({ "apns-topic": TOPIC, "apns-push-type": "alert" }, alert))).toEqual({
      status: 403,
      reason: "MissingProviderToken",
    });
  });

  it("refuses a token renewal on a connection sooner than 20 minutes", async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const [first, second] = [await appleJwt({ iat: nowS - 600 }), await appleJwt({ iat: nowS })];
    const answers = await withApple(async (post) => [
      await post(appleHeaders(first), alert),
      await post(appleHeaders(second), alert),
    ]);
    expect(answers).toEqual([{ status: 200 }, { status: 429, reason: "TooManyProviderTokenUpdates" }]);
  });

  it("refuses a wrong topic, a missing push type, a long collapse id, a large or broken payload", async () => {
    const jwt = await appleJwt();
    const h = appleHeaders(jwt);
    const answers = await withApple(async (post) => [
      await post({ ...h, "apns-topic": "com.example.other" }, alert),
      await post({ authorization: h.authorization, "apns-topic": TOPIC }, alert),
      await post({ ...h, "apns-collapse-id": "x".repeat(65) }, alert),
      await post(h, JSON.stringify({ aps: { alert: { body: "x".repeat(4100) } } })),
      await post(h, alert.slice(0, -1)),
      await post(h, JSON.stringify({ aps: { badge: 1 } })),
    ]);
    expect(answers).toEqual([
      { status: 400, reason: "DeviceTokenNotForTopic" },
      { status: 400, reason: "InvalidPushType" },
      { status: 400, reason: "BadCollapseId" },
      { status: 413, reason: "PayloadTooLarge" },
      { status: 400, reason: "BadPayload" },
      { status: 400, reason: "BadPayload" },
    ]);
  });
});

function post(
  url: string,
  headers: Record<string, string | number>,
  body: string | Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: "POST", headers, ca: tls.ca }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the FCM stand-in checks what Google checks", () => {
  let account: Record<string, string>;
  beforeAll(async () => {
    account = await google.makeServiceAccount();
  });

  async function assertion(
    over: { aud?: string; scope?: string; lifetime?: number; kid?: string } = {},
  ): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: over.scope ?? FCM_SCOPE })
      .setProtectedHeader({ alg: "RS256", kid: over.kid ?? account.private_key_id! })
      .setIssuer(account.client_email!)
      .setAudience(over.aud ?? account.token_uri!)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (over.lifetime ?? 3600))
      .sign(await importPKCS8(account.private_key!, "RS256"));
  }

  const exchange = async (jwt: string) =>
    post(
      google.tokenUri,
      { "content-type": "application/x-www-form-urlencoded" },
      new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt }).toString(),
    );

  it("refuses assertions for another audience, with a long lifetime or another key id", async () => {
    for (const jwt of [
      await assertion({ aud: "https://oauth2.googleapis.com/token" }),
      await assertion({ lifetime: 7200 }),
      await assertion({ kid: "0".repeat(40) }),
    ]) {
      const answer = await exchange(jwt);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: "invalid_grant" });
    }
  });

  it("refuses a message with a bad bearer, a token without the FCM scope, or a shape v1 does not take", async () => {
    const bearerOf = async (jwt: string) =>
      (JSON.parse((await exchange(jwt)).body) as { access_token: string }).access_token;
    const good = await bearerOf(await assertion());
    const unscoped = await bearerOf(await assertion({ scope: "https://www.googleapis.com/auth/cloud-platform" }));
    const url = `${google.url}/v1/projects/${PROJECT}/messages:send`;
    const send = (bearer: string, message: unknown) =>
      post(url, { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, JSON.stringify({ message }));
    const token = fcmRegistrationToken();
    expect((await send(good, { token, notification: { title: "t" } })).status).toBe(200);
    expect((await send("ya29.forged", { token })).status).toBe(401);
    expect((await send(unscoped, { token })).status).toBe(403);
    const refusals = [
      { token, data: { seq: 7 } }, // data values are strings
      { token, notification: { title: "t", subtitle: "s" } }, // unknown field
      { token, android: { priority: "high" } }, // enum is HIGH / NORMAL
      { token, android: { ttl: 3600 } }, // a Duration string
      { token, topic: "news" }, // one target only
      { token, data: { from: "me" } }, // reserved key
      { token, data: { big: "x".repeat(4100) } },
      { token, webpush: { headers: { Topic: "x".repeat(33) } } },
    ];
    for (const message of refusals) {
      const answer = await send(good, message);
      expect(answer.status, JSON.stringify(message).slice(0, 80)).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { status: "INVALID_ARGUMENT" } });
    }
  });
});

describe("the push-service stand-in checks what browsers' push services check", () => {
  const vapid = { subject: "mailto:ops@example.org", ...webpush.generateVAPIDKeys() };

  function request(over: { audience?: string; subject?: string } = {}) {
    const sub = pushService.subscribe();
    const details = webpush.generateRequestDetails(sub, JSON.stringify({ hello: "world" }), {
      vapidDetails: vapid,
      TTL: 60,
    });
    if (over.audience || over.subject) {
      const headers = webpush.getVapidHeaders(
        over.audience ?? pushService.origin,
        over.subject ?? vapid.subject,
        vapid.publicKey,
        vapid.privateKey,
        "aes128gcm",
      );
      details.headers.Authorization = headers.Authorization;
    }
    return { sub, details };
  }

  it("decrypts a well-formed push", async () => {
    const { sub, details } = request();
    expect((await post(sub.endpoint, details.headers, details.body!)).status).toBe(201);
    expect(pushService.recordsFor(sub.endpoint)[0]!.plaintext).toBe('{"hello":"world"}');
  });

  it("refuses a VAPID JWT for another audience or key, a tampered body, a missing TTL or a long Topic", async () => {
    const before = pushService.refusals.length;
    const wrongAud = request({ audience: "https://push.example.org" });
    expect((await post(wrongAud.sub.endpoint, wrongAud.details.headers, wrongAud.details.body!)).status).toBe(401);

    const tampered = request();
    const body = Buffer.from(tampered.details.body!);
    body.writeUInt8(body.readUInt8(body.length - 1) ^ 1, body.length - 1);
    expect((await post(tampered.sub.endpoint, tampered.details.headers, body)).status).toBe(400);

    const noTtl = request();
    const { TTL: _ttl, ...headers } = noTtl.details.headers;
    expect((await post(noTtl.sub.endpoint, headers, noTtl.details.body!)).status).toBe(400);

    const longTopic = request();
    const topicAnswer = await post(
      longTopic.sub.endpoint,
      { ...longTopic.details.headers, Topic: "t".repeat(33) },
      longTopic.details.body!,
    );
    expect(topicAnswer.status).toBe(400);

    const otherKey = request();
    const stranger = webpush.generateVAPIDKeys();
    const forged = otherKey.details.headers.Authorization!.replace(/k=.*/, `k=${stranger.publicKey}`);
    expect(
      (
        await post(
          otherKey.sub.endpoint,
          { ...otherKey.details.headers, Authorization: forged },
          otherKey.details.body!,
        )
      ).status,
    ).toBe(401);

    expect(pushService.refusals.slice(before).map((r) => r.why)).toEqual([
      expect.stringMatching(/vapid jwt/),
      expect.stringMatching(/decryption failed/),
      expect.stringMatching(/TTL/),
      expect.stringMatching(/Topic/),
      expect.stringMatching(/vapid jwt/),
    ]);
  });
});
