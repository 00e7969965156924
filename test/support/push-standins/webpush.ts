// A local push service (RFC 8030) over HTTPS: it checks the VAPID authorization the way browser
// vendors' services do (RFC 8292: `vapid t=<jwt>, k=<key>`, the JWT's ES256 signature against
// `k`, `aud` = this origin, `exp` in the future and within 24 hours, `sub` a mailto: or https:
// contact, `k` equal to the subscription's applicationServerKey when it named one), the TTL,
// Topic and Urgency headers and aes128gcm, then decrypts the body with the subscription's private
// key as the browser would (RFC 8291) and records the plaintext. Tests program answers per
// subscription.
import { createECDH, randomBytes, randomUUID, type ECDH } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import { importJWK, jwtVerify } from "jose";
import type { TestTls } from "./tls.js";
import { readBody } from "./body.js";

const ece = createRequire(import.meta.url)("http_ece") as {
  decrypt(body: Buffer, params: { version: "aes128gcm"; privateKey: ECDH; authSecret: Buffer }): Buffer;
};

export interface WebPushAnswer {
  status: number;
  /** seconds, sent as Retry-After */
  retryAfter?: number;
}

export interface BrowserSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface WebPushRecord {
  id: string;
  headers: IncomingMessage["headers"];
  claims: Record<string, unknown>;
  /** the decrypted payload */
  plaintext: string;
  status: number;
  /** epoch ms it arrived (benchmarks time deliveries by it) */
  at: number;
}

interface Subscriber {
  ecdh: ECDH;
  auth: Buffer;
  applicationServerKey?: string;
}

const URGENCIES = new Set(["very-low", "low", "normal", "high"]);
const DAY_S = 86_400;

export class WebPushStandIn {
  readonly records: WebPushRecord[] = [];
  /** TCP connections ever accepted: a refused endpoint must leave this at 0 */
  connections = 0;
  /** requests refused by the checks, with why */
  readonly refusals: Array<{ id: string; status: number; why: string }> = [];
  port = 0;

  private readonly server: https.Server;
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly answers = new Map<string, WebPushAnswer[]>();
  private readonly sockets = new Set<Socket>();

  private constructor(tls: TestTls) {
    this.server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      void this.handle(req, res).catch(() => this.refuse(res, "", 500, "stand-in fault"));
    });
    this.server.on("connection", (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(tls: TestTls): Promise<WebPushStandIn> {
    const s = new WebPushStandIn(tls);
    await new Promise<void>((r) => s.server.listen(0, "127.0.0.1", r));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /**
   * What a browser's PushManager.subscribe() gives: a new P-256 key pair and 16-byte auth secret
   * held by "the browser" (here), and an endpoint on this service.
   */
  subscribe(opts: { applicationServerKey?: string } = {}): BrowserSubscription {
    const id = randomUUID();
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subscribers.set(id, {
      ecdh,
      auth,
      ...(opts.applicationServerKey ? { applicationServerKey: opts.applicationServerKey } : {}),
    });
    return {
      endpoint: `${this.origin}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    };
  }

  /** Answers for the next pushes to this subscription, in order (then 201 Created). */
  program(endpoint: string, ...answers: WebPushAnswer[]): void {
    const id = idOf(endpoint);
    this.answers.set(id, [...(this.answers.get(id) ?? []), ...answers]);
  }

  recordsFor(endpoint: string): WebPushRecord[] {
    const id = idOf(endpoint);
    return this.records.filter((r) => r.id === id);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private refuse(res: ServerResponse, id: string, status: number, why: string): void {
    this.refusals.push({ id, status, why });
    res.writeHead(status, { "content-type": "text/plain" }).end(why);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, 64 * 1024);
    const id = /^\/push\/([0-9a-f-]+)$/.exec(req.url ?? "")?.[1] ?? "";
    const sub = this.subscribers.get(id);
    if (req.method !== "POST") return this.refuse(res, id, 405, "POST only");
    if (!sub) return this.refuse(res, id, 404, "no such subscription");

    const auth = /^vapid t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(req.headers.authorization ?? ""));
    if (!auth) return this.refuse(res, id, 401, "missing or malformed vapid authorization");
    const [, jwt, k] = auth as unknown as [string, string, string];
    const point = Buffer.from(k, "base64url");
    if (point.length !== 65 || point[0] !== 4) return this.refuse(res, id, 401, "k is not an uncompressed P-256 point");
    let claims: Record<string, unknown>;
    try {
      const key = await importJWK(
        {
          kty: "EC",
          crv: "P-256",
          x: point.subarray(1, 33).toString("base64url"),
          y: point.subarray(33).toString("base64url"),
        },
        "ES256",
      );
      ({ payload: claims } = await jwtVerify(jwt, key, {
        algorithms: ["ES256"],
        audience: this.origin,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (err) {
      return this.refuse(res, id, 401, `vapid jwt: ${(err as Error).message}`);
    }
    const nowS = Date.now() / 1000;
    if ((claims.exp as number) > nowS + DAY_S) return this.refuse(res, id, 401, "vapid exp more than 24 h ahead");
    if (!/^(mailto:|https:)/.test(String(claims.sub))) return this.refuse(res, id, 401, "vapid sub not mailto:/https:");
    if (sub.applicationServerKey && sub.applicationServerKey !== k)
      return this.refuse(res, id, 403, "k is not the subscription's applicationServerKey");

    const ttl = req.headers.ttl;
    if (typeof ttl !== "string" || !/^\d+$/.test(ttl))
      return this.refuse(res, id, 400, "TTL header missing or malformed");
    const topic = req.headers.topic;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(String(topic)))
      return this.refuse(res, id, 400, "Topic must be at most 32 base64url characters");
    const urgency = req.headers.urgency;
    if (urgency !== undefined && !URGENCIES.has(String(urgency))) return this.refuse(res, id, 400, "bad Urgency");
    if (body.length > 4096) return this.refuse(res, id, 413, "payload too large");
    if (body.length > 0 && req.headers["content-encoding"] !== "aes128gcm")
      return this.refuse(res, id, 415, "Content-Encoding must be aes128gcm");

    let plaintext: string;
    try {
      plaintext = ece
        .decrypt(body, { version: "aes128gcm", privateKey: sub.ecdh, authSecret: sub.auth })
        .toString("utf8");
    } catch (err) {
      return this.refuse(res, id, 400, `decryption failed: ${(err as Error).message}`);
    }
    const answer = this.answers.get(id)?.shift() ?? { status: 201 };
    this.records.push({ id, headers: req.headers, claims, plaintext, status: answer.status, at: Date.now() });
    const headers: Record<string, string> = {};
    if (answer.retryAfter !== undefined) headers["retry-after"] = String(answer.retryAfter);
    if (answer.status === 201) headers.location = `${this.origin}/message/${randomUUID()}`;
    res.writeHead(answer.status, headers).end();
  }
}

function idOf(endpoint: string): string {
  return endpoint.slice(endpoint.lastIndexOf("/") + 1);
}
