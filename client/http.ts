// The HTTP half of the client: JSON requests under /v1, the access token on each, one refresh and
// one retry on a 401, and the server's `{error:{code, message}}` as a ChatError.
import type { ErrorBody } from "../protocol/index.js";
import { ChatError } from "./errors.js";

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** Where requests get their access token, and what they do when the server refuses it. */
export interface TokenSource {
  token(): Promise<string>;
  /** `token` was refused (401): a newer token to retry with, or null when there is none */
  refused(token: string): Promise<string | null>;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** default true: send the access token */
  auth?: boolean;
  /**
   * Safe to send twice: retried once at once when the request got no answer at all (a connection
   * reused just as the server closed it, or cut on the way).
   */
  idempotent?: boolean;
  /** default: the client's request timeout */
  timeoutMs?: number;
}

/** a request with no answer this long is given up (a connection that died silently answers never) */
export const REQUEST_TIMEOUT_MS = 15_000;

export class Http {
  private tokens: TokenSource | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly fetch: Fetch,
  ) {}

  useTokens(tokens: TokenSource): void {
    this.tokens = tokens;
  }

  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = this.baseUrl + path + queryString(o.query);
    const auth = o.auth ?? true;
    let token = auth ? await this.requireTokens().token() : undefined;
    let retriedNetwork = false;
    let retriedAuth = false;
    for (;;) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.body !== undefined) headers["content-type"] = "application/json";
      let res: Response;
      try {
        res = await this.fetch(url, {
          method,
          headers,
          ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
          ...timeoutSignal(o.timeoutMs ?? REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        if (o.idempotent && !retriedNetwork) {
          retriedNetwork = true;
          continue;
        }
        throw new ChatError("network", `${method} ${path}: no answer (${String((err as Error)?.message ?? err)})`);
      }
      if (res.status === 401 && token && !retriedAuth) {
        retriedAuth = true;
        await res.body?.cancel();
        const next = await this.requireTokens().refused(token);
        if (next) {
          token = next;
          continue;
        }
      }
      return answer<T>(method, path, res);
    }
  }

  private requireTokens(): TokenSource {
    if (!this.tokens) throw new ChatError("signed_out", "sign in first (register, login or restore)");
    return this.tokens;
  }
}

function timeoutSignal(ms: number): { signal?: AbortSignal } {
  const timeout = (AbortSignal as { timeout?: (ms: number) => AbortSignal }).timeout;
  return typeof timeout === "function" ? { signal: timeout.call(AbortSignal, ms) } : {};
}

function queryString(q: RequestOptions["query"]): string {
  if (!q) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}

async function answer<T>(method: string, path: string, res: Response): Promise<T> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new ChatError("network", `${method} ${path}: the answer was cut off (${String(err)})`, res.status);
  }
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (res.ok) return body as T;
  const error = (body as Partial<ErrorBody> | undefined)?.error;
  throw new ChatError(
    error?.code ?? (res.status >= 500 ? "unavailable" : "invalid"),
    error?.message ?? `${method} ${path}: HTTP ${res.status}`,
    res.status,
    error?.retry_after_ms,
  );
}
