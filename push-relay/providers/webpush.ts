// Web Push (RFC 8030) to a browser's push service: the payload encrypted for the subscription
// (aes128gcm, RFC 8291) and the request signed with our VAPID key (RFC 8292), both by the
// `web-push` library; the request itself goes out through our own HTTPS client so a deadline,
// a bounded answer and the trust anchors are ours. The endpoint comes from a client, so it is
// checked against the allowed push services first: otherwise the relay would send signed
// requests anywhere it is told (a request forger).
import { createECDH } from "node:crypto";
import https from "node:https";
import webpush, { type RequestDetails } from "web-push";
import { ConfigError } from "../../lib/config/index.js";
import { isAllowedPushEndpoint, type PushOriginRule } from "../../lib/push-origins/index.js";
import { webPushTopic } from "./collapse.js";
import { fitAlert } from "./fit.js";
import { clip, faultText, httpsRequest, type HttpsAnswer } from "./https-request.js";
import { retryAfterMs } from "./retry-after.js";
import type { Outcome, PushContent, PushProvider, PushTarget } from "./types.js";

/**
 * Plaintext we encrypt at most: RFC 8291 leaves 3993 bytes in one 4096-byte record, and push
 * services differ in what they accept beyond ~3 KB.
 */
export const WEBPUSH_PLAINTEXT_MAX_BYTES = 3072;
export const WEBPUSH_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long a VAPID token lives, and when a new one is made: RFC 8292 allows up to 24 h. One token
 * per push service serves every send to it; signing one per send (ES256 over a PEM the library
 * rebuilds each time) was most of a send's CPU, about 1.3 ms.
 */
const VAPID_TOKEN_SECONDS = 12 * 3600;
const VAPID_RENEW_BEFORE_SECONDS = 3600;

export interface VapidKeys {
  /** a contact for the push service's operator: mailto: or https: */
  subject: string;
  /** base64url, the uncompressed P-256 point browsers get as applicationServerKey */
  publicKey: string;
  /** base64url, the 32-byte P-256 private key */
  privateKey: string;
}

export interface WebPushOptions {
  vapid: VapidKeys;
  /** the push services we will POST to (WEBPUSH_ALLOW_ORIGINS) */
  allow: PushOriginRule;
  /** the CA (PEM) to trust instead of the system roots: a test's stand-in; unset in production */
  ca?: string;
  now?: () => number;
  requestTimeoutMs?: number;
}

/** What the service worker receives (JSON): enough to show the banner and open the room. */
export interface WebPushPayload {
  title: string;
  body: string;
  room_id: string;
  seq: number;
  count: number;
  badge: number;
  mentioned: boolean;
  /** Notification tag: the browser replaces the room's banner instead of stacking another */
  tag: string;
}

export class WebPushProvider implements PushProvider {
  readonly name = "webpush";
  readonly live = true;

  private readonly agent: https.Agent;
  private readonly now: () => number;
  /** audience (push service origin) -> its VAPID Authorization header and when the token expires */
  private readonly vapidTokens = new Map<string, { authorization: string; exp: number }>();

  constructor(private readonly opts: WebPushOptions) {
    checkVapidKeys(opts.vapid);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, ...(opts.ca ? { ca: opts.ca } : {}) });
    this.now = opts.now ?? Date.now;
  }

  /** The VAPID header for one push service, reused until an hour before its token expires. */
  private vapidAuthorization(audience: string): string {
    const nowS = Math.floor(this.now() / 1000);
    const held = this.vapidTokens.get(audience);
    if (held && held.exp - nowS > VAPID_RENEW_BEFORE_SECONDS) return held.authorization;
    const exp = nowS + VAPID_TOKEN_SECONDS;
    const { subject, publicKey, privateKey } = this.opts.vapid;
    const { Authorization } = webpush.getVapidHeaders(audience, subject, publicKey, privateKey, "aes128gcm", exp) as {
      Authorization: string;
    };
    // bounded by the allow-list: a handful of push services
    this.vapidTokens.set(audience, { authorization: Authorization, exp });
    return Authorization;
  }

  async send(target: PushTarget, content: PushContent): Promise<Outcome> {
    // registered under another allow-list (POST /devices checks the same one): it can never be
    // sent to under this one, and failing it on every notification would keep it forever
    if (!isAllowedPushEndpoint(target.token, this.opts.allow))
      return { kind: "retire", status: 0, reason: "endpoint_not_allowed" };
    if (!target.p256dh || !target.auth) return { kind: "failed", status: 0, reason: "subscription has no keys" };
    const payload = this.payload(content);
    if (payload === undefined)
      return { kind: "failed", status: 0, reason: "payload over 3072 bytes even without text" };

    let details: RequestDetails;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: target.token, keys: { p256dh: target.p256dh, auth: target.auth } },
        payload,
        {
          // signed below, once per push service (vapidAuthorization), not per send
          contentEncoding: "aes128gcm",
          TTL: content.ttl_seconds,
          urgency: content.mentioned ? "high" : "normal",
          topic: webPushTopic(content.collapse_key),
        },
      );
    } catch (err) {
      // the subscription's keys are not a P-256 point and a 16-byte secret: nothing to retry
      return { kind: "failed", status: 0, reason: clip(`subscription refused: ${faultText(err)}`) };
    }
    details.headers.Authorization = this.vapidAuthorization(new URL(target.token).origin);

    let answer: HttpsAnswer;
    try {
      answer = await httpsRequest(new URL(details.endpoint), {
        method: "POST",
        headers: details.headers,
        body: details.body ?? Buffer.alloc(0),
        agent: this.agent,
        timeoutMs: this.opts.requestTimeoutMs ?? WEBPUSH_REQUEST_TIMEOUT_MS,
      });
    } catch (err) {
      return { kind: "retry", status: 0, reason: `Web Push transport: ${faultText(err)}` };
    }
    return this.outcome(answer);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private payload(content: PushContent): string | undefined {
    const encode = (title: string, body: string) =>
      JSON.stringify({
        title,
        body,
        room_id: content.room_id,
        seq: content.seq,
        count: content.count,
        badge: content.badge,
        mentioned: content.mentioned,
        tag: content.collapse_key,
      } satisfies WebPushPayload);
    return fitAlert(content.title, content.body, WEBPUSH_PLAINTEXT_MAX_BYTES, encode)?.encoded;
  }

  private outcome(answer: HttpsAnswer): Outcome {
    const { status } = answer;
    if (status >= 200 && status < 300) {
      const id = answer.headers.location;
      return { kind: "sent", status, ...(id ? { id } : {}) };
    }
    const reason = clip(answer.body.trim() ? `HTTP ${status}: ${answer.body.trim()}` : `HTTP ${status}`);
    // the subscription expired or the user unsubscribed (RFC 8030 §7.3)
    if (status === 404 || status === 410) return { kind: "retire", status, reason };
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(answer.headers["retry-after"], this.now());
      return { kind: "retry", status, reason, ...(after !== undefined ? { retry_after_ms: after } : {}) };
    }
    return { kind: "failed", status, reason };
  }
}

/** VAPID keys are checked at start: a wrong pair would have every push service refuse every send. */
export function checkVapidKeys(vapid: VapidKeys): void {
  let subject: URL | undefined;
  try {
    subject = new URL(vapid.subject);
  } catch {
    subject = undefined;
  }
  if (!subject || (subject.protocol !== "mailto:" && subject.protocol !== "https:"))
    throw new ConfigError(`VAPID_SUBJECT must be a mailto: or https: URL, got "${vapid.subject}"`);
  const pub = base64url(vapid.publicKey);
  const priv = base64url(vapid.privateKey);
  if (pub?.length !== 65 || pub[0] !== 4)
    throw new ConfigError("VAPID_PUBLIC_KEY must be a base64url uncompressed P-256 point (65 bytes)");
  if (priv?.length !== 32) throw new ConfigError("VAPID_PRIVATE_KEY must be a base64url P-256 private key (32 bytes)");
  let derived: Buffer;
  try {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(priv);
    derived = ecdh.getPublicKey();
  } catch {
    throw new ConfigError("VAPID_PRIVATE_KEY is not a valid P-256 private key");
  }
  if (!derived.equals(pub)) throw new ConfigError("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY");
}

function base64url(text: string): Buffer | undefined {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(text) ? Buffer.from(text, "base64url") : undefined;
}
