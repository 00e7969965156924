// Firebase Cloud Messaging, HTTP v1 API (firebase.google.com/docs/cloud-messaging/send-message,
// /docs/reference/fcm/rest/v1/ErrorCode). Auth is OAuth 2 for a service account (RFC 7523): an
// RS256 JWT assertion signed with the account's key, exchanged at its token_uri for an access
// token that is cached and shared by every send until shortly before it expires.
// (firebase-admin and google-auth-library would do this, but their current majors need Node 22.)
import { createPrivateKey, type KeyObject } from "node:crypto";
import https from "node:https";
import { SignJWT } from "jose";
import { z } from "zod";
import { ConfigError } from "../../lib/config/index.js";
import { collapseId, webPushTopic } from "./collapse.js";
import { fitAlert } from "./fit.js";
import { clip, faultText, httpsRequest, type HttpsAnswer } from "./https-request.js";
import { retryAfterMs } from "./retry-after.js";
import type { Outcome, PushContent, PushProvider, PushTarget } from "./types.js";

export const FCM_API_URL = "https://fcm.googleapis.com";
export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
/** FCM's limit for a message's payload (data and notification) */
export const FCM_PAYLOAD_MAX_BYTES = 4096;
/** Google's longest assertion lifetime */
const ASSERTION_LIFETIME_S = 3600;
/** renew an access token this long before it expires (Google's live an hour), or halfway if it lives shorter */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;
export const FCM_REQUEST_TIMEOUT_MS = 10_000;

export const ServiceAccount = z.looseObject({
  type: z.literal("service_account").optional(),
  project_id: z
    .string()
    .max(100)
    .regex(/^[a-z0-9][a-z0-9:.-]*$/, "a Google Cloud project id"),
  client_email: z.string().min(3).max(320).includes("@"),
  private_key: z.string().min(1).max(10_000),
  private_key_id: z.string().min(1).max(200),
  token_uri: z.url({ protocol: /^https$/ }),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

/** The service-account JSON as Google's console downloads it; a wrong one stops the relay at start. */
export function parseServiceAccount(json: string, source = "FCM service account"): ServiceAccount {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(`${source} is not JSON`);
  }
  const parsed = ServiceAccount.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      `${source}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
  return parsed.data;
}

export interface FcmOptions {
  account: ServiceAccount;
  apiUrl?: string;
  /** the CA (PEM) to trust instead of the system roots: a test's stand-in; unset in production */
  ca?: string;
  now?: () => number;
  requestTimeoutMs?: number;
}

const SendAnswer = z.looseObject({ name: z.string().max(500) });
const ErrorAnswer = z.looseObject({
  error: z.looseObject({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    details: z
      .array(
        z.looseObject({
          "@type": z.string().optional(),
          errorCode: z.string().optional(),
          fieldViolations: z
            .array(z.looseObject({ field: z.string().optional(), description: z.string().optional() }))
            .optional(),
        }),
      )
      .optional(),
  }),
});
const TokenAnswer = z.looseObject({
  access_token: z.string().min(1).max(4096),
  expires_in: z.number().positive(),
  token_type: z.string().optional(),
});
const TokenError = z.looseObject({ error: z.string(), error_description: z.string().optional() });

interface AccessToken {
  token: string;
  /** when a send stops using it: shortly before it expires */
  renewAt: number;
}

/** a token exchange that gave no access token: what send() answers instead */
class NoAccessToken extends Error {
  constructor(readonly outcome: Outcome) {
    super(outcome.kind);
  }
}

export class FcmProvider implements PushProvider {
  readonly name = "fcm";
  readonly live = true;

  private readonly account: ServiceAccount;
  private readonly key: KeyObject;
  private readonly sendUrl: URL;
  private readonly tokenUrl: URL;
  private readonly agent: https.Agent;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private access: AccessToken | undefined;
  private exchanging: Promise<AccessToken> | undefined;

  constructor(opts: FcmOptions) {
    this.account = opts.account;
    this.key = fcmSigningKey(opts.account.private_key);
    const api = opts.apiUrl ?? FCM_API_URL;
    let base: URL;
    try {
      base = new URL(api);
    } catch {
      throw new ConfigError(`FCM API URL is not a URL: "${api}"`);
    }
    if (base.protocol !== "https:" || base.origin !== api.replace(/\/$/, ""))
      throw new ConfigError(`FCM API URL must be an https origin with no path, got "${api}"`);
    this.sendUrl = new URL(`/v1/projects/${encodeURIComponent(this.account.project_id)}/messages:send`, base);
    this.tokenUrl = new URL(this.account.token_uri);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 32, ...(opts.ca ? { ca: opts.ca } : {}) });
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.requestTimeoutMs ?? FCM_REQUEST_TIMEOUT_MS;
  }

  async send(target: PushTarget, content: PushContent): Promise<Outcome> {
    try {
      return await this.deliver(target, content);
    } catch (err) {
      if (err instanceof NoAccessToken) return err.outcome;
      return { kind: "retry", status: 0, reason: `FCM transport: ${faultText(err)}` };
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async deliver(target: PushTarget, content: PushContent): Promise<Outcome> {
    const body = this.message(target, content);
    if (body === undefined) return { kind: "failed", status: 0, reason: "payload over 4096 bytes even without text" };
    let access = await this.accessToken();
    let answer = await this.post(access, body);
    if (answer.status === 401 && errorCodeOf(parseError(answer.body)) !== "THIRD_PARTY_AUTH_ERROR") {
      // an access token revoked or expired early: one fresh token, one more try
      access = await this.renewRefused(access);
      answer = await this.post(access, body);
    }
    return this.outcome(answer);
  }

  private message(target: PushTarget, content: PushContent): string | undefined {
    const id = collapseId(content.collapse_key);
    const data = {
      room_id: content.room_id,
      seq: String(content.seq),
      count: String(content.count),
      badge: String(content.badge),
      mentioned: String(content.mentioned),
    };
    const fitted = fitAlert(content.title, content.body, FCM_PAYLOAD_MAX_BYTES, (title, body) =>
      JSON.stringify({ notification: { title, body }, data }),
    );
    if (!fitted) return undefined;
    return JSON.stringify({
      message: {
        token: target.token,
        notification: { title: fitted.title, body: fitted.body },
        data,
        android: {
          collapse_key: id,
          // notifications a person sees are what high priority is for (FCM deprioritises apps
          // that send high-priority messages without showing one)
          priority: "HIGH",
          ttl: `${content.ttl_seconds}s`,
          notification: { tag: id },
        },
        webpush: {
          headers: {
            Topic: webPushTopic(content.collapse_key),
            TTL: String(content.ttl_seconds),
            Urgency: content.mentioned ? "high" : "normal",
          },
        },
        apns: {
          headers: { "apns-collapse-id": id },
          payload: { aps: { badge: content.badge, "thread-id": content.room_id } },
        },
      },
    });
  }

  private outcome(answer: HttpsAnswer): Outcome {
    const { status } = answer;
    if (status === 200) {
      const ok = SendAnswer.safeParse(safeJson(answer.body));
      return { kind: "sent", status, ...(ok.success ? { id: ok.data.name } : {}) };
    }
    const error = parseError(answer.body);
    const code = errorCodeOf(error) ?? error?.status ?? `HTTP ${status}`;
    const reason = clip(error?.message ? `${code}: ${error.message}` : code);
    if (code === "UNREGISTERED") return { kind: "retire", status, reason };
    if (status === 400 && code === "INVALID_ARGUMENT")
      return tokenIsBad(error) ? { kind: "retire", status, reason } : { kind: "failed", status, reason };
    // SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, or an access token refused even fresh: the
    // account or the app's setup is wrong, not this device
    if (status === 401 || status === 403) return { kind: "config", status, reason };
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(answer.headers["retry-after"], this.now());
      return {
        kind: "retry",
        status,
        reason,
        ...(after !== undefined ? { retry_after_ms: after } : {}),
        ...(code === "QUOTA_EXCEEDED" ? { quota: true } : {}),
      };
    }
    return { kind: "failed", status, reason };
  }

  private post(access: AccessToken, body: string): Promise<HttpsAnswer> {
    return httpsRequest(this.sendUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${access.token}`,
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      },
      body,
      agent: this.agent,
      timeoutMs: this.timeoutMs,
    });
  }

  private accessToken(): Promise<AccessToken> {
    const a = this.access;
    if (a && this.now() < a.renewAt) return Promise.resolve(a);
    return this.exchange();
  }

  /** A fresh token after `refused` was refused, unless another send already got one. */
  private renewRefused(refused: AccessToken): Promise<AccessToken> {
    if (this.exchanging) return this.exchanging;
    if (this.access && this.access !== refused) return Promise.resolve(this.access);
    this.access = undefined;
    return this.exchange();
  }

  /** One exchange at a time: concurrent sends wait for the same one. */
  private exchange(): Promise<AccessToken> {
    this.exchanging ??= this.exchangeOnce().finally(() => (this.exchanging = undefined));
    return this.exchanging;
  }

  private async exchangeOnce(): Promise<AccessToken> {
    const issuedAt = Math.floor(this.now() / 1000);
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.account.private_key_id })
      .setIssuer(this.account.client_email)
      .setAudience(this.account.token_uri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_S)
      .sign(this.key);
    const form = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion,
    }).toString();
    let answer: HttpsAnswer;
    try {
      answer = await httpsRequest(this.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(form) },
        body: form,
        agent: this.agent,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw new NoAccessToken({ kind: "retry", status: 0, reason: `FCM token exchange: ${faultText(err)}` });
    }
    const { status } = answer;
    if (status === 200) {
      const ok = TokenAnswer.safeParse(safeJson(answer.body));
      if (!ok.success)
        throw new NoAccessToken({
          kind: "config",
          status,
          reason: "FCM token exchange: no access token in the answer",
        });
      const lifetime = ok.data.expires_in * 1000;
      this.access = {
        token: ok.data.access_token,
        renewAt: this.now() + Math.max(lifetime - RENEW_BEFORE_EXPIRY_MS, lifetime / 2),
      };
      return this.access;
    }
    const said = TokenError.safeParse(safeJson(answer.body));
    const reason = clip(
      `FCM token exchange: ${said.success ? [said.data.error, said.data.error_description].filter(Boolean).join(": ") : `HTTP ${status}`}`,
    );
    if (status === 429 || status >= 500) {
      const after = retryAfterMs(answer.headers["retry-after"], this.now());
      throw new NoAccessToken({
        kind: "retry",
        status,
        reason,
        ...(after !== undefined ? { retry_after_ms: after } : {}),
      });
    }
    // invalid_grant and friends: the key, the account or the clock is wrong, for every device
    throw new NoAccessToken({ kind: "config", status, reason });
  }
}

type FcmError = z.infer<typeof ErrorAnswer>["error"];

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseError(body: string): FcmError | undefined {
  const parsed = ErrorAnswer.safeParse(safeJson(body));
  return parsed.success ? parsed.data.error : undefined;
}

/** FCM's own code (UNREGISTERED, QUOTA_EXCEEDED, …) sits in the FcmError detail */
function errorCodeOf(error: FcmError | undefined): string | undefined {
  return error?.details?.find((d) => d.errorCode)?.errorCode;
}

/** INVALID_ARGUMENT names many faults; only one about the token itself retires it */
function tokenIsBad(error: FcmError | undefined): boolean {
  const violations = error?.details?.flatMap((d) => d.fieldViolations ?? []) ?? [];
  if (violations.some((v) => v.field === "message.token")) return true;
  const texts = [error?.message, ...violations.map((v) => v.description)];
  return texts.some((t) => t !== undefined && /registration token/i.test(t));
}

/** The account's private key: RSA in PKCS#8 PEM. Read at start, so a wrong key stops the relay. */
export function fcmSigningKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new ConfigError(`FCM service account private_key is not a PEM private key: ${faultText(err)}`);
  }
  if (key.asymmetricKeyType !== "rsa") throw new ConfigError("FCM service account private_key must be an RSA key");
  return key;
}
