// WebSocket clients for tests: open a session socket or a room stream through the public API
// (ticket first), then wait for frames by predicate.
import WebSocket from "ws";
import type { ServerFrame } from "../../protocol/index.js";
import { call } from "./api.js";
import type { EdgeLike as Edge } from "./miniflare.js";

export type Frame = ServerFrame & Record<string, any>;

export class TestSocket {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;
  /** when the server's `closing` frame arrived, and when the standard `close` event fired */
  closingAt?: number;
  closedAt?: number;

  /** WebSocket messages received, and how many of them held an array of frames (batch=1) */
  messages = 0;
  arrays = 0;

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      this.messages++;
      try {
        const parsed = JSON.parse(text) as Frame | Frame[];
        if (Array.isArray(parsed)) this.arrays++;
        for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
          this.frames.push(frame);
          // the protocol's answer to `closing`: our own close, which the server completes at once
          if (frame.type === "closing") {
            this.closingAt = Date.now();
            ws.close(frame.code, frame.reason);
          }
        }
      } catch {
        this.frames.push({ type: "unparsed", text } as unknown as Frame);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      const done = (code: number, reason: Buffer | string) => {
        if (this.isClosed) return;
        this.isClosed = true;
        this.closedAt = Date.now();
        for (const w of this.waiters.splice(0)) w();
        resolve({ code, reason: reason.toString() });
      };
      ws.on("close", done);
    });
  }

  static open(url: string): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new TestSocket(ws);
      ws.once("open", () => resolve(socket));
      ws.once("unexpected-response", (_req, res) =>
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })),
      );
      ws.once("error", reject);
    });
  }

  /** From the server's `closing` frame to the standard `close` event (the socket must be closed). */
  closeLagMs(): number {
    if (this.closingAt === undefined || this.closedAt === undefined) {
      throw new Error(`no closing frame then close event (closingAt ${this.closingAt}, closedAt ${this.closedAt})`);
    }
    return this.closedAt - this.closingAt;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Removes and returns the first frame (received or yet to come) that matches. */
  async take(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.isClosed)
        throw new Error(`socket closed while waiting; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching frame within ${timeoutMs} ms; frames: ${JSON.stringify(this.frames).slice(0, 500)}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  takeType<T extends Frame["type"]>(type: T, timeoutMs?: number): Promise<Frame> {
    return this.take((f) => f.type === type, timeoutMs);
  }

  /** Waits until `n` frames of a type have arrived (and removes them). */
  async takeN(type: string, n: number, timeoutMs = 10_000): Promise<Frame[]> {
    const out: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < n) out.push(await this.take((f) => f.type === type, Math.max(1, deadline - Date.now())));
    return out;
  }

  /** Frames of a type seen so far (not removed). */
  seen(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.isClosed) this.ws.close(1000);
    return this.closed;
  }
}

export async function ticket(edge: Edge, token: string, deviceId: string, roomId?: string): Promise<string> {
  const res = await call(edge, "POST", "/v1/connect/ticket", {
    token,
    body: { device_id: deviceId, ...(roomId ? { room_id: roomId } : {}) },
  });
  if (res.status !== 200)
    throw Object.assign(new Error(`ticket refused: ${res.status} ${JSON.stringify(res.body)}`), { status: res.status });
  return res.body.ticket;
}

const wsUrl = (edge: Edge, path: string) => edge.url.replace(/^http/, "ws") + path;

export async function openStream(
  edge: Edge,
  user: { token: string },
  roomId: string,
  opts: { device?: string; afterSeq?: number; afterRev?: number; waitSynced?: boolean; batch?: boolean } = {},
): Promise<TestSocket> {
  const t = await ticket(edge, user.token, opts.device ?? "dev-1", roomId);
  const q = new URLSearchParams({
    ticket: t,
    ...(opts.batch ? { batch: "1" } : {}),
    ...(opts.afterSeq !== undefined ? { after_seq: String(opts.afterSeq) } : {}),
    ...(opts.afterRev !== undefined ? { after_rev: String(opts.afterRev) } : {}),
  });
  const s = await TestSocket.open(wsUrl(edge, `/v1/rooms/${roomId}/stream?${q}`));
  if (opts.waitSynced !== false) await s.take((f) => f.type === "synced");
  return s;
}

export async function openSession(edge: Edge, user: { token: string }, device = "dev-1"): Promise<TestSocket> {
  const t = await ticket(edge, user.token, device);
  return TestSocket.open(wsUrl(edge, `/v1/connect?ticket=${encodeURIComponent(t)}`));
}

export function upgradeUrl(edge: Edge, path: string): string {
  return wsUrl(edge, path);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a truthy value. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 5000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
