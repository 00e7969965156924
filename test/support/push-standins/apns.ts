// A local APNs: an HTTP/2 TLS server that checks a request the way Apple's provider API does
// (the provider JWT's ES256 signature against the key of its `kid`, the team as `iss`, `iat`
// neither older than an hour nor in the future, renewals no closer than 20 minutes; the path, the
// topic, the push type, the payload's size and form, the collapse id's size) and answers as Apple
// documents. Tests program answers per device token and send GOAWAY on demand.
import { randomUUID } from "node:crypto";
import http2, { type Http2Session, type Http2ServerRequest, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey } from "jose";
import type { TestTls } from "./tls.js";
import { readBody } from "./body.js";

export interface ApnsAnswer {
  status: number;
  reason?: string;
  /** seconds, sent as Retry-After */
  retryAfter?: number;
  /** never answer (a gateway that hangs): the provider's deadline must end the wait */
  hang?: boolean;
}

export interface ApnsRecord {
  token: string;
  headers: IncomingHttpHeaders;
  /** the payload as sent (parsed), and its size in bytes */
  payload: unknown;
  bytes: number;
  jwt: string;
  /** the apns-id answered */
  apnsId: string;
  /** which connection (0, 1, …) carried it */
  session: number;
  status: number;
  reason?: string;
}

export interface ApnsStandInOptions {
  tls: TestTls;
  teamId: string;
  /** the bundle id the tokens belong to */
  topic: string;
  /** the stand-in's clock (tests share one with the provider) */
  now?: () => number;
}

export interface ApnsSigningKey {
  keyId: string;
  /** the .p8 contents */
  p8: string;
  publicKey: CryptoKey;
}

const HOUR_S = 3600;
const TOKEN_UPDATE_MIN_S = 20 * 60;
const PUSH_TYPES = new Set([
  "alert",
  "background",
  "location",
  "voip",
  "complication",
  "fileprovider",
  "mdm",
  "liveactivity",
]);

export class ApnsStandIn {
  readonly records: ApnsRecord[] = [];
  /** every ping frame received (the provider's keep-alive) */
  pings = 0;
  /** connections opened so far */
  sessionCount = 0;

  private readonly server: http2.Http2SecureServer;
  private readonly keys = new Map<string, CryptoKey>();
  private readonly answers = new Map<string, ApnsAnswer[]>();
  private readonly openSessions = new Set<Http2Session>();
  private readonly sessionIndex = new WeakMap<Http2Session, number>();
  private readonly jwts = new Set<string>();
  /**
   * per connection: the provider token in use, when it was issued, and whether we refused it
   * (then a new one is due at once). Apple's renewal throttle is observed per connection.
   */
  private readonly inUse = new WeakMap<Http2Session, { jwt: string; iat: number; refused: boolean }>();
  private readonly now: () => number;
  private closedWaiters: Array<() => void> = [];
  port = 0;

  private constructor(private readonly opts: ApnsStandInOptions) {
    this.now = opts.now ?? Date.now;
    this.server = http2.createSecureServer({ key: opts.tls.key, cert: opts.tls.cert, allowHTTP1: false });
    this.server.on("session", (session) => {
      this.sessionIndex.set(session, this.sessionCount++);
      this.openSessions.add(session);
      session.on("ping", () => this.pings++);
      session.on("close", () => {
        this.openSessions.delete(session);
        for (const w of this.closedWaiters.splice(0)) w();
      });
      session.on("error", () => {});
    });
    this.server.on("request", (req, res) => {
      void this.handle(req).then(
        (a) => this.answer(res, a),
        () => this.answer(res, { status: 500, reason: "InternalServerError", id: randomUUID() }),
      );
    });
  }

  static async start(opts: ApnsStandInOptions): Promise<ApnsStandIn> {
    const s = new ApnsStandIn(opts);
    await new Promise<void>((r) => s.server.listen(0, "127.0.0.1", r));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** A signing key of the team, as the developer account hands it out (.p8 and its key id). */
  async newKey(keyId = randomKeyId()): Promise<ApnsSigningKey> {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const key = { keyId, p8: await exportPKCS8(privateKey), publicKey };
    this.trust(key);
    return key;
  }

  /** Knows a key made by another stand-in (Apple's gateways all know a team's keys). */
  trust(key: ApnsSigningKey): void {
    this.keys.set(key.keyId, key.publicKey);
  }

  /** Answers for the next requests to this device token, in order (then 200). */
  program(token: string, ...answers: ApnsAnswer[]): void {
    this.answers.set(token, [...(this.answers.get(token) ?? []), ...answers]);
  }

  /** distinct provider tokens seen: 1 + the renewals */
  get distinctJwts(): number {
    return this.jwts.size;
  }

  get openSessionCount(): number {
    return this.openSessions.size;
  }

  /** GOAWAY on every open connection, then closing it once its streams are done, as Apple does. */
  goaway(): void {
    for (const s of this.openSessions) s.close();
  }

  /** Resolves when no connection is open any more. */
  async allSessionsClosed(): Promise<void> {
    while (this.openSessions.size > 0) await new Promise<void>((r) => this.closedWaiters.push(r));
  }

  async close(): Promise<void> {
    for (const s of this.openSessions) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private answer(res: http2.Http2ServerResponse, a: ApnsAnswer & { id: string }): void {
    const headers: Record<string, string> = { "apns-id": a.id };
    if (a.retryAfter !== undefined) headers["retry-after"] = String(a.retryAfter);
    if (a.status === 200) {
      res.writeHead(200, headers).end();
      return;
    }
    const body: Record<string, unknown> = { reason: a.reason };
    if (a.status === 410) body.timestamp = this.now();
    res.writeHead(a.status, { ...headers, "content-type": "application/json" }).end(JSON.stringify(body));
  }

  private async handle(req: Http2ServerRequest): Promise<ApnsAnswer & { id: string }> {
    const body = await readBody(req, 64 * 1024);
    const headers = req.headers;
    const session = (req.stream.session && this.sessionIndex.get(req.stream.session)) ?? -1;
    const path = String(headers[":path"] ?? "");
    const token = /^\/3\/device\/([^/?]*)$/.exec(path)?.[1] ?? "";
    const auth = String(headers.authorization ?? "");
    const jwt = /^bearer (.+)$/i.exec(auth)?.[1] ?? "";
    if (jwt) this.jwts.add(jwt);

    const conn = req.stream.session!;
    const verdict = await this.check(conn, req.method, path, token, headers, jwt, body);
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      payload = undefined;
    }
    const answer = verdict ?? this.answers.get(token)?.shift() ?? { status: 200 };
    // Apple echoes the request's apns-id, or makes one
    const id = typeof headers["apns-id"] === "string" ? headers["apns-id"] : randomUUID();
    const inUse = this.inUse.get(conn);
    if (inUse?.jwt === jwt && answer.status === 403 && answer.reason?.endsWith("ProviderToken")) inUse.refused = true;
    this.records.push({
      token,
      headers,
      payload,
      bytes: body.length,
      jwt,
      apnsId: id,
      session,
      status: answer.status,
      ...(answer.reason ? { reason: answer.reason } : {}),
    });
    if (answer.hang) await new Promise<never>(() => {});
    return { ...answer, id };
  }

  /** Apple's checks, in the order its documentation lists the errors; undefined when all pass. */
  private async check(
    conn: Http2Session,
    method: string,
    path: string,
    token: string,
    headers: IncomingHttpHeaders,
    jwt: string,
    body: Buffer,
  ): Promise<ApnsAnswer | undefined> {
    if (method !== "POST") return { status: 405, reason: "MethodNotAllowed" };
    if (!path.startsWith("/3/device/")) return { status: 404, reason: "BadPath" };
    if (!token) return { status: 400, reason: "MissingDeviceToken" };
    if (!jwt) return { status: 403, reason: "MissingProviderToken" };
    const tokenFault = await this.checkJwt(conn, jwt);
    if (tokenFault) return tokenFault;
    const topic = headers["apns-topic"];
    if (!topic) return { status: 400, reason: "MissingTopic" };
    const pushType = headers["apns-push-type"];
    if (typeof pushType !== "string" || !PUSH_TYPES.has(pushType)) return { status: 400, reason: "InvalidPushType" };
    const priority = headers["apns-priority"];
    if (priority !== undefined && !["1", "5", "10"].includes(String(priority)))
      return { status: 400, reason: "BadPriority" };
    const expiration = headers["apns-expiration"];
    if (expiration !== undefined && !/^\d+$/.test(String(expiration)))
      return { status: 400, reason: "BadExpirationDate" };
    const collapse = headers["apns-collapse-id"];
    if (collapse !== undefined && Buffer.byteLength(String(collapse)) > 64)
      return { status: 400, reason: "BadCollapseId" };
    if (!/^[0-9a-f]{64}$/i.test(token)) return { status: 400, reason: "BadDeviceToken" };
    if (topic !== this.opts.topic) return { status: 400, reason: "DeviceTokenNotForTopic" };
    if (body.length === 0) return { status: 400, reason: "PayloadEmpty" };
    if (body.length > 4096) return { status: 413, reason: "PayloadTooLarge" };
    let payload: { aps?: { alert?: unknown } };
    try {
      payload = JSON.parse(body.toString("utf8")) as typeof payload;
    } catch {
      // Apple documents no reason for this; a test only needs it to fail
      return { status: 400, reason: "BadPayload" };
    }
    if (typeof payload !== "object" || payload === null || !payload.aps || payload.aps.alert === undefined)
      return { status: 400, reason: "BadPayload" };
    return undefined;
  }

  private async checkJwt(conn: Http2Session, jwt: string): Promise<ApnsAnswer | undefined> {
    let kid: string | undefined;
    let alg: string | undefined;
    try {
      ({ kid, alg } = decodeProtectedHeader(jwt));
    } catch {
      return { status: 403, reason: "InvalidProviderToken" };
    }
    const key = kid ? this.keys.get(kid) : undefined;
    if (alg !== "ES256" || !key) return { status: 403, reason: "InvalidProviderToken" };
    let iat: number;
    try {
      const { payload } = await jwtVerify(jwt, key, {
        algorithms: ["ES256"],
        issuer: this.opts.teamId,
        currentDate: new Date(this.now()),
      });
      if (typeof payload.iat !== "number") return { status: 403, reason: "InvalidProviderToken" };
      iat = payload.iat;
    } catch {
      return { status: 403, reason: "InvalidProviderToken" };
    }
    const nowS = Math.floor(this.now() / 1000);
    if (iat > nowS + 5) return { status: 403, reason: "InvalidProviderToken" };
    if (nowS - iat > HOUR_S) return { status: 403, reason: "ExpiredProviderToken" };
    const current = this.inUse.get(conn);
    if (current && current.jwt !== jwt) {
      // a new token on this connection: allowed every 20 minutes, or at once after we refused the old one
      if (!current.refused && iat - current.iat < TOKEN_UPDATE_MIN_S)
        return { status: 429, reason: "TooManyProviderTokenUpdates" };
    }
    if (!current || current.jwt !== jwt) this.inUse.set(conn, { jwt, iat, refused: false });
    return undefined;
  }
}

function randomKeyId(): string {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 10 }, () => abc[Math.floor(Math.random() * abc.length)]).join("");
}

/** A device token as iOS hands it out: 32 random bytes in hex. */
export function apnsDeviceToken(): string {
  return Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString("hex");
}
