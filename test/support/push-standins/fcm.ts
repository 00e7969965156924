// A local FCM: an HTTPS server with Google's OAuth token endpoint for service accounts (it
// verifies the RS256 assertion against the account's public key, `kid`, `iss`, `aud` = this
// token_uri, the scope and the lifetime, and issues a bearer that expires) and the HTTP v1 send
// endpoint (it checks the bearer and the project, and the message's shape as strictly as the real
// API, which refuses unknown fields and non-string data). Tests program answers per registration
// token, with the error bodies FCM documents.
import { randomBytes, randomUUID } from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey } from "jose";
import { z } from "zod";
import type { TestTls } from "./tls.js";
import { readBody } from "./body.js";

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

export type FcmAnswer =
  | { kind: "unregistered" }
  | { kind: "invalid-token" }
  /** INVALID_ARGUMENT about something other than the token */
  | { kind: "invalid-argument"; field?: string }
  | { kind: "quota"; retryAfter?: number }
  | { kind: "unavailable"; retryAfter?: number }
  | { kind: "internal" }
  | { kind: "sender-id-mismatch" }
  | { kind: "third-party-auth" }
  /** revoke every bearer issued so far, so this request (and the next with an old bearer) gets 401 */
  | { kind: "expire-bearer" }
  | { kind: "status"; status: number; body: unknown };

export interface FcmRecord {
  token: string;
  message: SendRequest["message"];
  bearer: string;
  status: number;
}

export interface FcmStandInOptions {
  tls: TestTls;
  projectId: string;
  /** seconds an issued bearer lives (Google: 3599) */
  expiresIn?: number;
  now?: () => number;
}

// the v1 Message resource (firebase.google.com/docs/reference/fcm/rest/v1/projects.messages),
// strict as the API is: an unknown field is a 400
const StringMap = z.record(z.string(), z.string());
const Duration = z.string().regex(/^\d+(\.\d{1,9})?s$/, 'a duration like "3.5s"');
const FcmOptions = z.strictObject({ analytics_label: z.string().optional() });
const Notification = z.strictObject({
  title: z.string().optional(),
  body: z.string().optional(),
  image: z.string().optional(),
});
const AndroidNotification = z
  .strictObject({
    title: z.string(),
    body: z.string(),
    icon: z.string(),
    color: z.string(),
    sound: z.string(),
    tag: z.string(),
    click_action: z.string(),
    body_loc_key: z.string(),
    body_loc_args: z.array(z.string()),
    title_loc_key: z.string(),
    title_loc_args: z.array(z.string()),
    channel_id: z.string(),
    ticker: z.string(),
    sticky: z.boolean(),
    image: z.string(),
    notification_priority: z.enum([
      "PRIORITY_UNSPECIFIED",
      "PRIORITY_MIN",
      "PRIORITY_LOW",
      "PRIORITY_DEFAULT",
      "PRIORITY_HIGH",
      "PRIORITY_MAX",
    ]),
    visibility: z.enum(["VISIBILITY_UNSPECIFIED", "PRIVATE", "PUBLIC", "SECRET"]),
    notification_count: z.number().int(),
  })
  .partial();
const Android = z
  .strictObject({
    collapse_key: z.string(),
    priority: z.enum(["NORMAL", "HIGH"]),
    ttl: Duration,
    restricted_package_name: z.string(),
    data: StringMap,
    notification: AndroidNotification,
    fcm_options: FcmOptions,
    direct_boot_ok: z.boolean(),
  })
  .partial();
const Webpush = z
  .strictObject({
    headers: StringMap,
    data: StringMap,
    notification: z.record(z.string(), z.unknown()),
    fcm_options: z.strictObject({ link: z.string().optional(), analytics_label: z.string().optional() }),
  })
  .partial();
const Apns = z
  .strictObject({
    headers: StringMap,
    payload: z.record(z.string(), z.unknown()),
    fcm_options: z.strictObject({ analytics_label: z.string().optional(), image: z.string().optional() }),
    live_activity_token: z.string(),
  })
  .partial();
const Message = z
  .strictObject({
    name: z.string().optional(),
    data: StringMap.optional(),
    notification: Notification.optional(),
    android: Android.optional(),
    webpush: Webpush.optional(),
    apns: Apns.optional(),
    fcm_options: FcmOptions.optional(),
    token: z.string().optional(),
    topic: z.string().optional(),
    condition: z.string().optional(),
  })
  .refine((m) => [m.token, m.topic, m.condition].filter((t) => t !== undefined).length === 1, {
    message: "exactly one of token, topic, condition",
    path: ["token"],
  });
const SendRequest = z.strictObject({ validate_only: z.boolean().optional(), message: Message });
type SendRequest = z.infer<typeof SendRequest>;

const RESERVED_DATA_KEY = /^(from|notification|message_type)$|^(google|gcm)/;
const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";
const MAX_TTL_S = 28 * 86_400;

interface Account {
  kid: string;
  publicKey: CryptoKey;
  projectId: string;
}

interface Bearer {
  email: string;
  expiresAt: number;
  scopes: string[];
  revoked: boolean;
}

export class FcmStandIn {
  readonly records: FcmRecord[] = [];
  /** token endpoint requests answered with a bearer */
  tokensIssued = 0;
  /** token endpoint requests refused */
  tokensRefused = 0;
  port = 0;

  private readonly server: https.Server;
  private readonly accounts = new Map<string, Account>();
  private readonly bearers = new Map<string, Bearer>();
  private readonly answers = new Map<string, FcmAnswer[]>();
  private readonly tokenAnswers: Array<{ status: number; retryAfter?: number }> = [];
  private readonly now: () => number;

  private constructor(private readonly opts: FcmStandInOptions) {
    this.now = opts.now ?? Date.now;
    this.server = https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, (req, res) => {
      void this.route(req, res).catch(() => json(res, 500, { error: { code: 500, status: "INTERNAL" } }));
    });
  }

  static async start(opts: FcmStandInOptions): Promise<FcmStandIn> {
    const s = new FcmStandIn(opts);
    await new Promise<void>((r) => s.server.listen(0, "127.0.0.1", r));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /**
   * A service-account JSON as Google's console gives it, with token_uri pointing here; the
   * stand-in knows its public key unless `known` is false (a key Google never issued).
   */
  async makeServiceAccount(opts: { known?: boolean; projectId?: string } = {}): Promise<Record<string, string>> {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
    const kid = randomBytes(20).toString("hex");
    const projectId = opts.projectId ?? this.opts.projectId;
    const email = `relay-${randomBytes(4).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
    if (opts.known !== false) this.accounts.set(email, { kid, publicKey, projectId });
    return {
      type: "service_account",
      project_id: projectId,
      private_key_id: kid,
      private_key: await exportPKCS8(privateKey),
      client_email: email,
      client_id: String(Math.floor(Math.random() * 1e15)),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.tokenUri,
    };
  }

  /** Answers for the next token requests (an outage of Google's token endpoint), then the real exchange. */
  programTokenEndpoint(...answers: Array<{ status: number; retryAfter?: number }>): void {
    this.tokenAnswers.push(...answers);
  }

  /** Answers for the next sends to this registration token, in order (then success). */
  program(token: string, ...answers: FcmAnswer[]): void {
    this.answers.set(token, [...(this.answers.get(token) ?? []), ...answers]);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const body = await readBody(req, 1024 * 1024);
    const path = req.url ?? "";
    if (req.method === "POST" && path === "/token") return this.token(req, body, res);
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
    if (req.method === "POST" && send) return this.send(req, decodeURIComponent(send[1]!), body, res);
    json(res, 404, { error: { code: 404, message: "Not found", status: "NOT_FOUND" } });
  }

  private async token(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const refuse = (status: number, error: string, description: string) => {
      this.tokensRefused++;
      json(res, status, { error, error_description: description });
    };
    const outage = this.tokenAnswers.shift();
    if (outage) {
      this.tokensRefused++;
      const headers: Record<string, string> =
        outage.retryAfter !== undefined ? { "retry-after": String(outage.retryAfter) } : {};
      return json(res, outage.status, { error: "internal_failure", error_description: "Backend Error" }, headers);
    }
    if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded"))
      return refuse(400, "invalid_request", "form encoding expected");
    const form = new URLSearchParams(body.toString("utf8"));
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return refuse(400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type"));
    const assertion = form.get("assertion") ?? "";
    let iss: unknown;
    let kid: string | undefined;
    try {
      ({ iss } = decodeJwt(assertion));
      ({ kid } = decodeProtectedHeader(assertion));
    } catch {
      return refuse(400, "invalid_grant", "Invalid JWT: malformed");
    }
    const account = typeof iss === "string" ? this.accounts.get(iss) : undefined;
    if (!account) return refuse(400, "invalid_grant", "Invalid grant: account not found");
    if (kid !== undefined && kid !== account.kid) return refuse(400, "invalid_grant", "Invalid JWT Signature.");
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(assertion, account.publicKey, {
        algorithms: ["RS256"],
        issuer: iss as string,
        audience: this.tokenUri,
        requiredClaims: ["iat", "exp", "scope"],
        currentDate: new Date(this.now()),
        clockTolerance: 60,
      }));
    } catch {
      return refuse(400, "invalid_grant", "Invalid JWT Signature.");
    }
    const iat = claims.iat as number;
    const exp = claims.exp as number;
    if (exp - iat > 3600 || iat > this.now() / 1000 + 60)
      return refuse(
        400,
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      );
    if (typeof claims.scope !== "string" || !claims.scope)
      return refuse(400, "invalid_scope", "Empty or missing scope");
    const bearer = `ya29.${randomBytes(24).toString("base64url")}`;
    const expiresIn = this.opts.expiresIn ?? 3599;
    this.bearers.set(bearer, {
      email: iss as string,
      expiresAt: this.now() + expiresIn * 1000,
      scopes: claims.scope.split(" "),
      revoked: false,
    });
    this.tokensIssued++;
    json(res, 200, { access_token: bearer, expires_in: expiresIn, token_type: "Bearer" });
  }

  private async send(req: IncomingMessage, project: string, body: Buffer, res: ServerResponse): Promise<unknown> {
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
    const bearer = this.bearers.get(auth);
    if (!bearer || bearer.revoked || this.now() >= bearer.expiresAt)
      return fcmError(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    if (!bearer.scopes.includes(FCM_SCOPE))
      return fcmError(res, 403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.");
    if (this.accounts.get(bearer.email)?.projectId !== project || project !== this.opts.projectId)
      return fcmError(
        res,
        403,
        "PERMISSION_DENIED",
        `Permission 'cloudmessaging.messages.create' denied on ${project}`,
      );
    if (!String(req.headers["content-type"]).startsWith("application/json"))
      return fcmError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString("utf8"));
    } catch {
      return fcmError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.");
    }
    const parsed = SendRequest.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".");
      return fcmError(res, 400, "INVALID_ARGUMENT", `Invalid value at '${field}': ${issue.message}`, {
        violations: [{ field, description: issue.message }],
      });
    }
    const message = parsed.data.message;
    const fault = checkMessage(message);
    if (fault) return fcmError(res, 400, "INVALID_ARGUMENT", fault.message, { violations: [fault] });
    const token = message.token!;
    const answer = this.answers.get(token)?.shift();
    const status = this.answer(res, project, answer);
    this.records.push({ token, message, bearer: auth, status });
  }

  private answer(res: ServerResponse, project: string, a: FcmAnswer | undefined): number {
    switch (a?.kind) {
      case undefined:
        json(res, 200, { name: `projects/${project}/messages/${randomUUID()}` });
        return 200;
      case "unregistered":
        return fcmError(res, 404, "NOT_FOUND", "Requested entity was not found.", { errorCode: "UNREGISTERED" });
      case "invalid-token":
        return fcmError(res, 400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", {
          errorCode: "INVALID_ARGUMENT",
          violations: [{ field: "message.token", description: "Invalid registration token" }],
        });
      case "invalid-argument": {
        const field = a.field ?? "message.android.notification.color";
        return fcmError(res, 400, "INVALID_ARGUMENT", `Invalid value at '${field}'`, {
          errorCode: "INVALID_ARGUMENT",
          violations: [{ field, description: "Invalid value" }],
        });
      }
      case "quota":
        return fcmError(res, 429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Messages'", {
          errorCode: "QUOTA_EXCEEDED",
          retryAfter: a.retryAfter,
        });
      case "unavailable":
        return fcmError(res, 503, "UNAVAILABLE", "The service is currently unavailable.", {
          errorCode: "UNAVAILABLE",
          retryAfter: a.retryAfter,
        });
      case "internal":
        return fcmError(res, 500, "INTERNAL", "Internal error encountered.", { errorCode: "INTERNAL" });
      case "sender-id-mismatch":
        return fcmError(res, 403, "PERMISSION_DENIED", "SenderId mismatch", { errorCode: "SENDER_ID_MISMATCH" });
      case "third-party-auth":
        return fcmError(res, 401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", {
          errorCode: "THIRD_PARTY_AUTH_ERROR",
        });
      case "expire-bearer":
        for (const b of this.bearers.values()) b.revoked = true;
        return fcmError(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
      case "status":
        json(res, a.status, a.body);
        return a.status;
    }
  }
}

/** The checks the v1 API makes beyond the schema. */
function checkMessage(m: SendRequest["message"]): { field: string; description: string; message: string } | undefined {
  const bad = (field: string, description: string) => ({ field, description, message: description });
  for (const key of Object.keys(m.data ?? {}))
    if (RESERVED_DATA_KEY.test(key)) return bad(`message.data.${key}`, `Invalid data payload key: ${key}`);
  // what FCM counts against its 4096 bytes: the data's keys and values and the notification's text
  const bytes =
    Object.entries(m.data ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) +
    Buffer.byteLength(m.notification?.title ?? "") +
    Buffer.byteLength(m.notification?.body ?? "");
  if (bytes > 4096) return bad("message", "Message is too big");
  const ttl = m.android?.ttl;
  if (ttl !== undefined && Number(ttl.slice(0, -1)) > MAX_TTL_S)
    return bad("message.android.ttl", "TTL must be at most 4 weeks");
  // what FCM passes on to the push service and to APNs, which would refuse it
  const topic = m.webpush?.headers?.Topic;
  if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic))
    return bad("message.webpush.headers.Topic", "Topic must be at most 32 base64url characters");
  const collapse = m.apns?.headers?.["apns-collapse-id"];
  if (collapse !== undefined && Buffer.byteLength(collapse) > 64)
    return bad("message.apns.headers.apns-collapse-id", "apns-collapse-id must be at most 64 bytes");
  return undefined;
}

function fcmError(
  res: ServerResponse,
  code: number,
  status: string,
  message: string,
  extra: { errorCode?: string; violations?: Array<{ field: string; description: string }>; retryAfter?: number } = {},
): number {
  const details: unknown[] = [];
  if (extra.errorCode) details.push({ "@type": FCM_ERROR, errorCode: extra.errorCode });
  if (extra.violations) details.push({ "@type": BAD_REQUEST, fieldViolations: extra.violations });
  const headers: Record<string, string> =
    extra.retryAfter !== undefined ? { "retry-after": String(extra.retryAfter) } : {};
  json(res, code, { error: { code, message, status, ...(details.length ? { details } : {}) } }, headers);
  return code;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
  res.end(JSON.stringify(body));
}

/** A registration token as a device's FCM SDK hands it out. */
export function fcmRegistrationToken(): string {
  return `${randomBytes(16).toString("base64url")}:APA91b${randomBytes(100).toString("base64url")}`;
}
