// One HTTPS request with a deadline and a bounded answer, for the providers that speak HTTP/1.1
// (FCM's token exchange and send, Web Push). node:https rather than fetch: its Agent takes a `ca`
// (a test's stand-in CA; in production the system roots, plus NODE_EXTRA_CA_CERTS) and keeps
// connections alive, with no dependency beyond Node 20. Certificate checks are never turned off.
import type { IncomingHttpHeaders } from "node:http";
import https from "node:https";

/** an answer body we read at most (FCM and push services answer a few hundred bytes) */
export const ANSWER_MAX_BYTES = 64 * 1024;

export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpsRequest {
  method: "POST";
  headers: Record<string, string | number>;
  body: string | Buffer;
  agent: https.Agent;
  timeoutMs: number;
}

/** Rejects on a transport fault (connect, TLS, reset, deadline); any HTTP status resolves. */
export function httpsRequest(url: URL, req: HttpsRequest): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== "https:") return reject(new Error(`refusing a non-https URL: ${url.origin}`));
    const request = https.request(
      url,
      { method: req.method, headers: req.headers, agent: req.agent, timeout: req.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > ANSWER_MAX_BYTES) res.destroy(new Error(`answer larger than ${ANSWER_MAX_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    request.on("error", reject);
    request.end(req.body);
  });
}

/** What a transport fault says, short enough for a delivery log. */
export function faultText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const text = typeof e?.message === "string" ? e.message : String(err);
  return clip(typeof e?.code === "string" && !text.includes(e.code) ? `${e.code}: ${text}` : text);
}

export const REASON_MAX_CHARS = 300;

export function clip(text: string): string {
  return text.length > REASON_MAX_CHARS ? text.slice(0, REASON_MAX_CHARS - 1) + "…" : text;
}
