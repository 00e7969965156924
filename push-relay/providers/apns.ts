// Apple Push Notification service, HTTP/2 provider API with token auth
// (developer.apple.com: "Sending notification requests to APNs", "Establishing a token-based
// connection"). One long-lived HTTP/2 session per environment, as Apple asks (opening a
// connection per notification is treated as a denial-of-service attack), replaced after GOAWAY
// or a fault and kept warm with pings; one provider JWT for all of them, reused for ~50 minutes
// because Apple refuses tokens older than an hour and throttles renewals more often than every
// 20 minutes (429 TooManyProviderTokenUpdates).
import { createPrivateKey, type KeyObject } from "node:crypto";
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { SignJWT } from "jose";
import { z } from "zod";
import { ConfigError } from "../../lib/config/index.js";
import { collapseId } from "./collapse.js";
import { fitAlert } from "./fit.js";
import { ANSWER_MAX_BYTES, clip, faultText } from "./https-request.js";
import { retryAfterMs } from "./retry-after.js";
import type { Outcome, PushContent, PushProvider, PushTarget } from "./types.js";

export const APNS_PRODUCTION_URL = "https://api.push.apple.com";
export const APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com";
/** Apple's limit for a (non-VoIP) notification payload */
export const APNS_PAYLOAD_MAX_BYTES = 4096;
/** renew the provider token when it is this old: Apple refuses tokens older than 60 minutes */
export const APNS_TOKEN_RENEW_AFTER_MS = 50 * 60_000;
/** Apple answers 429 TooManyProviderTokenUpdates to renewals closer together than this */
export const APNS_TOKEN_MIN_INTERVAL_MS = 20 * 60_000;
export const APNS_PING_INTERVAL_MS = 60_000;
export const APNS_REQUEST_TIMEOUT_MS = 10_000;

type Environment = "production" | "sandbox";

export interface ApnsOptions {
  /** the .p8 signing key from the developer account (PKCS#8 PEM) */
  key: string;
  /** its 10-character key id (the JWT's `kid`) */
  keyId: string;
  /** the 10-character team id (the JWT's `iss`) */
  teamId: string;
  /** the app's bundle id, for devices that registered no app_id of their own */
  topic?: string;
  productionUrl?: string;
  sandboxUrl?: string;
  /** the CA (PEM) to trust instead of the system roots: a test's stand-in; unset in production */
  ca?: string;
  /** milliseconds since the epoch (tests move it) */
  now?: () => number;
  pingIntervalMs?: number;
  requestTimeoutMs?: number;
  /** add `mutable-content: 1` (for an app with a notification service extension) */
  mutableContent?: boolean;
  log?: (line: string) => void;
}

const ApnsError = z.looseObject({ reason: z.string().max(200) });

const DEVICE_TOKEN = /^[0-9a-f]{16,400}$/i;
const APPLE_ID = /^[A-Z0-9]{10}$/;

/** 403 reasons that a fresh provider token may cure */
const TOKEN_REASONS = new Set(["ExpiredProviderToken", "InvalidProviderToken"]);
/** 400 reasons that say our topic is wrong, not the device: one wrong topic must not retire every token */
const TOPIC_REASONS = new Set(["DeviceTokenNotForTopic", "TopicDisallowed", "BadTopic", "MissingTopic"]);

interface ProviderToken {
  jwt: string;
  issuedAt: number;
  forced: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export class ApnsProvider implements PushProvider {
  readonly name = "apns";
  readonly live = true;

  private readonly key: KeyObject;
  private readonly origins: Record<Environment, string>;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly sessions = new Map<Environment, ClientHttp2Session>();
  private token: ProviderToken | undefined;
  private signing: Promise<ProviderToken> | undefined;
  private closed = false;

  constructor(private readonly opts: ApnsOptions) {
    this.key = apnsSigningKey(opts.key);
    if (!APPLE_ID.test(opts.keyId))
      throw new ConfigError(`APNs key id must be 10 letters or digits, got "${opts.keyId}"`);
    if (!APPLE_ID.test(opts.teamId))
      throw new ConfigError(`APNs team id must be 10 letters or digits, got "${opts.teamId}"`);
    this.origins = {
      production: httpsOrigin(opts.productionUrl ?? APNS_PRODUCTION_URL, "APNs production URL"),
      sandbox: httpsOrigin(opts.sandboxUrl ?? APNS_SANDBOX_URL, "APNs sandbox URL"),
    };
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((l) => console.log(`[push-relay] ${l}`));
  }

  async send(target: PushTarget, content: PushContent): Promise<Outcome> {
    try {
      return await this.deliver(target, content);
    } catch (err) {
      return { kind: "retry", status: 0, reason: `APNs transport: ${faultText(err)}` };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map(closeSession));
  }

  private async deliver(target: PushTarget, content: PushContent): Promise<Outcome> {
    if (!DEVICE_TOKEN.test(target.token))
      return { kind: "retire", status: 400, reason: "BadDeviceToken: not a hex token" };
    const topic = target.app_id || this.opts.topic;
    if (!topic) return { kind: "config", status: 0, reason: "no APNs topic: set APNS_TOPIC or register the app id" };
    const environment: Environment = target.environment ?? "production";
    const payload = this.payload(content);
    if (payload === undefined)
      return { kind: "failed", status: 0, reason: "payload over 4096 bytes even without text" };

    const headers = {
      ":method": "POST",
      ":path": `/3/device/${target.token}`,
      "apns-topic": topic,
      "apns-push-type": "alert",
      // a chat message is something the person waits for: deliver now (5 would let iOS hold it
      // for power reasons, and the collapse id already keeps a busy room to one banner)
      "apns-priority": "10",
      "apns-expiration": String(Math.floor(this.now() / 1000) + content.ttl_seconds),
      "apns-collapse-id": collapseId(content.collapse_key),
      "content-type": "application/json",
    };

    let token = await this.providerToken();
    let answer = await this.request(environment, { ...headers, authorization: `bearer ${token.jwt}` }, payload);
    let reason = reasonOf(answer);
    if (answer.status === 403 && TOKEN_REASONS.has(reason)) {
      const renewed = await this.renewRefused(token);
      if (renewed) {
        token = renewed;
        answer = await this.request(environment, { ...headers, authorization: `bearer ${token.jwt}` }, payload);
        reason = reasonOf(answer);
      }
    }
    return this.outcome(answer, reason, environment);
  }

  private payload(content: PushContent): string | undefined {
    const aps = {
      badge: content.badge,
      sound: "default",
      "thread-id": content.room_id,
      ...(this.opts.mutableContent ? { "mutable-content": 1 } : {}),
    };
    const encode = (title: string, body: string) =>
      JSON.stringify({
        aps: { alert: { title, body }, ...aps },
        room_id: content.room_id,
        seq: content.seq,
        count: content.count,
      });
    return fitAlert(content.title, content.body, APNS_PAYLOAD_MAX_BYTES, encode)?.encoded;
  }

  private outcome(answer: Answer, reason: string, environment: Environment): Outcome {
    const { status } = answer;
    if (status === 200) {
      const id = answer.headers["apns-id"];
      return { kind: "sent", status, ...(typeof id === "string" ? { id } : {}) };
    }
    const said = reason || `HTTP ${status}`;
    if (status === 410) return { kind: "retire", status, reason: said };
    if (status === 400 && reason === "BadDeviceToken")
      return {
        kind: "retire",
        status,
        reason: `BadDeviceToken: not a token of the ${environment} gateway (an environment mismatch?) or malformed`,
      };
    if (status === 400 && TOPIC_REASONS.has(reason)) return { kind: "config", status, reason: said };
    // the key, the team or the token itself (after the one renewal): nothing a device did
    if (status === 403) return { kind: "config", status, reason: said };
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(answer.headers["retry-after"], this.now());
      return {
        kind: "retry",
        status,
        reason: said,
        ...(after !== undefined ? { retry_after_ms: after } : {}),
        // TooManyRequests is one device getting too many; token updates throttle the whole provider
        ...(reason === "TooManyProviderTokenUpdates" ? { quota: true } : {}),
      };
    }
    return { kind: "failed", status, reason: said };
  }

  /** The current provider token, signed anew when it is ~50 minutes old (one signing for all callers). */
  private async providerToken(): Promise<ProviderToken> {
    const t = this.token;
    if (t && this.now() - t.issuedAt < APNS_TOKEN_RENEW_AFTER_MS) return t;
    return this.sign(false);
  }

  /**
   * A fresh token after Apple refused `refused`, unless another send already renewed it (then
   * that one), or a forced renewal happened within Apple's 20-minute throttle (then none: the
   * fault is not the token's age, and renewing again would only add TooManyProviderTokenUpdates).
   */
  private async renewRefused(refused: ProviderToken): Promise<ProviderToken | undefined> {
    if (this.signing) return this.signing;
    const current = this.token;
    if (current && current !== refused) return current;
    if (current?.forced && this.now() - current.issuedAt < APNS_TOKEN_MIN_INTERVAL_MS) return undefined;
    return this.sign(true);
  }

  private sign(forced: boolean): Promise<ProviderToken> {
    this.signing ??= (async () => {
      try {
        const issuedAt = this.now();
        const jwt = await new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: this.opts.keyId })
          .setIssuer(this.opts.teamId)
          .setIssuedAt(Math.floor(issuedAt / 1000))
          .sign(this.key);
        this.token = { jwt, issuedAt, forced };
        return this.token;
      } finally {
        this.signing = undefined;
      }
    })();
    return this.signing;
  }

  private session(environment: Environment): ClientHttp2Session {
    const open = this.sessions.get(environment);
    if (open && !open.closed && !open.destroyed) return open;
    if (this.closed) throw new Error("provider closed");
    const origin = this.origins[environment];
    const session = http2.connect(origin, this.opts.ca ? { ca: this.opts.ca } : {});
    const forget = () => {
      if (this.sessions.get(environment) === session) this.sessions.delete(environment);
    };
    const ping = setInterval(() => {
      if (session.destroyed || session.connecting) return;
      try {
        // an unanswered ping means a dead connection: drop it before a notification waits on it
        session.ping((err) => err && session.destroy(err));
      } catch {
        session.destroy();
      }
    }, this.opts.pingIntervalMs ?? APNS_PING_INTERVAL_MS);
    ping.unref();
    // GOAWAY: Apple is closing this connection (maintenance, or an error of ours); streams in
    // flight finish on it, new ones go to a new session
    session.on("goaway", (code) => {
      forget();
      // a server that sends GOAWAY and never closes must not keep the socket forever
      setTimeout(() => session.destroy(), 2 * (this.opts.requestTimeoutMs ?? APNS_REQUEST_TIMEOUT_MS)).unref();
      this.log(`apns ${environment}: GOAWAY (code ${code}), opening a new session for the next send`);
    });
    session.on("error", (err) => {
      forget();
      this.log(`apns ${environment}: session error: ${faultText(err)}`);
    });
    session.on("close", () => {
      forget();
      clearInterval(ping);
    });
    this.sessions.set(environment, session);
    return session;
  }

  private request(environment: Environment, headers: http2.OutgoingHttpHeaders, body: string): Promise<Answer> {
    const session = this.session(environment);
    const timeoutMs = this.opts.requestTimeoutMs ?? APNS_REQUEST_TIMEOUT_MS;
    return new Promise<Answer>((resolve, reject) => {
      const stream = session.request(headers);
      let status = 0;
      let answerHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        answerHeaders = h;
      });
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= ANSWER_MAX_BYTES) chunks.push(chunk);
        else stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on("end", () => {
        if (status) resolve({ status, headers: answerHeaders, body: Buffer.concat(chunks).toString("utf8") });
      });
      stream.on("error", reject);
      stream.on("close", () =>
        reject(new Error(status ? "answer cut short" : `stream closed without an answer (code ${stream.rstCode})`)),
      );
      stream.end(body);
    });
  }
}

function reasonOf(answer: Answer): string {
  if (answer.status === 200 || !answer.body) return "";
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return clip(answer.body);
  }
  const parsed = ApnsError.safeParse(json);
  return parsed.success ? parsed.data.reason : "";
}

function closeSession(session: ClientHttp2Session): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => session.destroy(), 2_000);
    session.close(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** Apple's .p8: an EC P-256 private key in PKCS#8 PEM. Read at start, so a wrong file stops the relay. */
export function apnsSigningKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new ConfigError(`APNs key is not a PEM private key (.p8): ${faultText(err)}`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new ConfigError("APNs key must be an EC P-256 key (the .p8 file Apple issues)");
  return key;
}

export function httpsOrigin(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${what} is not a URL: "${value}"`);
  }
  if (url.protocol !== "https:" || url.origin !== value.replace(/\/$/, ""))
    throw new ConfigError(`${what} must be an https origin with no path, got "${value}"`);
  return url.origin;
}
