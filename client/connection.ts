// One long-lived WebSocket that stays connected: a fresh URL (a new ticket) for every attempt, a
// heartbeat, the server's `closing` frame answered with our own close, and reconnects with
// full-jitter backoff. What a close means is the owner's call (room.ts, session.ts): this class
// only asks and carries it out.
import { PING_FRAME, unpackFrames, type ServerFrame } from "../protocol/index.js";
import type { Backoff } from "./backoff.js";

/** The part of the WebSocket API used here: browsers, workerd and Node's `ws` all have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // The event types differ per runtime (DOM, workerd, ws): `any` lets each one's constructor be
  // passed as it is; the listeners below read only what all of them have (data, code, reason).
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const HEARTBEAT_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
/** a socket that has not opened by then is given up and tried again */
export const CONNECT_TIMEOUT_MS = 15_000;
/** a socket that stayed open this long was healthy: the backoff starts over */
export const HEALTHY_AFTER_MS = 3000;
/** client close codes: a dead socket (no pong, or never opened) */
const DEAD_CODE = 4000;
const OPEN = 1;

export type ConnectionState = "idle" | "connecting" | "open" | "waiting" | "stopped";

/** What to do after a close, or after a failed attempt. */
export type Verdict = { stop: true } | { stop?: false; minDelayMs?: number; immediate?: boolean };

export interface ConnectionHooks {
  /** the URL of one attempt (with a fresh ticket); throwing counts as a failed attempt */
  url(): Promise<string>;
  opened(): void;
  frame(frame: ServerFrame): void;
  /** the socket is gone (never called after stop()) */
  closed(close: { code: number; reason: string; wasOpen: boolean }): Verdict | Promise<Verdict>;
  /** url() threw */
  failed(err: unknown): Verdict | Promise<Verdict>;
  state?(state: ConnectionState): void;
}

export interface ConnectionOptions {
  WebSocket: WebSocketConstructor;
  backoff: Backoff;
  heartbeatMs?: number;
  pongTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type Timer = ReturnType<typeof setTimeout>;

export class Connection {
  state: ConnectionState = "idle";
  /** sockets that opened; attempts made (both since start) */
  opens = 0;
  attempts = 0;
  /** how the last socket ended (the server's code, or 1006 / 4000 for a network or heartbeat loss) */
  lastClose: { code: number; reason: string } | null = null;
  private ws: WebSocketLike | null = null;
  private gen = 0;
  private openedAt = 0;
  private retryTimer: Timer | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private pongTimer: Timer | null = null;
  private connectTimer: Timer | null = null;
  /** ends the current socket's life (it is not waited for: a dead socket may never fire `close`) */
  private finish: ((code: number, reason: string) => void) | null = null;

  constructor(
    private readonly hooks: ConnectionHooks,
    private readonly o: ConnectionOptions,
  ) {}

  get isOpen(): boolean {
    return this.state === "open";
  }

  start(): void {
    if (this.state === "idle") void this.attempt();
  }

  /** Closes for good (until start() on a new instance). */
  stop(): void {
    if (this.state === "stopped") return;
    this.gen++;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.finish = null;
    if (ws) safeClose(ws, 1000, "client closed");
    this.setState("stopped");
  }

  /** Waiting to reconnect: try now (the network came back, the page became visible). */
  retryNow(): void {
    if (this.state !== "waiting" || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.attempt();
  }

  /** Open: make sure the socket is alive (a ping that must be answered in time). */
  checkAlive(): void {
    if (this.state === "open") this.ping();
  }

  /** The owner saw the socket work end to end (a room's `synced`): the backoff starts over. */
  markHealthy(): void {
    this.o.backoff.reset();
  }

  /** Sends if open; false when there is no open socket to send on. */
  send(data: string): boolean {
    if (this.state !== "open" || !this.ws || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(data);
      return true;
    } catch {
      return false;
    }
  }

  private async attempt(): Promise<void> {
    const gen = ++this.gen;
    this.attempts++;
    this.setState("connecting");
    let url: string;
    try {
      url = await this.hooks.url();
    } catch (err) {
      if (gen !== this.gen) return;
      return this.next(gen, await this.hooks.failed(err));
    }
    if (gen !== this.gen) return;
    let ws: WebSocketLike;
    try {
      ws = new this.o.WebSocket(url);
    } catch (err) {
      return this.next(gen, await this.hooks.failed(err));
    }
    this.ws = ws;
    let done = false;
    let wasOpen = false;
    const finish = (code: number, reason: string) => {
      if (done || gen !== this.gen) return;
      done = true;
      this.lastClose = { code, reason };
      this.ws = null;
      this.finish = null;
      this.clearSocketTimers();
      if (wasOpen && Date.now() - this.openedAt >= HEALTHY_AFTER_MS) this.o.backoff.reset();
      this.setState("waiting");
      void Promise.resolve(this.hooks.closed({ code, reason, wasOpen })).then((v) => this.next(gen, v));
    };
    this.finish = finish;
    this.connectTimer = setTimeout(() => {
      safeClose(ws, DEAD_CODE, "did not open in time");
      finish(1006, "did not open in time");
    }, this.o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      if (done || gen !== this.gen) return;
      wasOpen = true;
      this.opens++;
      this.openedAt = Date.now();
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.setState("open");
      this.heartbeat = setInterval(() => this.ping(), this.o.heartbeatMs ?? HEARTBEAT_MS);
      this.hooks.opened();
    });
    ws.addEventListener("message", (event: { data: unknown }) => {
      if (done || gen !== this.gen) return;
      this.heard();
      if (typeof event.data !== "string") return;
      let frames: ServerFrame[];
      try {
        // a stream opened with batch=1 may carry several frames in one message (protocol/batch.ts)
        frames = unpackFrames(event.data) as ServerFrame[];
      } catch {
        return;
      }
      for (const frame of frames) {
        // a frame before this one may have ended the socket for us (a reconnect, a stop)
        if (done || gen !== this.gen) return;
        if (frame.type === "pong") continue;
        if (frame.type === "closing") {
          // README "Closes and the closing frame": answer with our own close, which completes at
          // once; nothing else arrives after it, so the socket is done for us now
          safeClose(ws, frame.code, frame.reason);
          return finish(frame.code, frame.reason);
        }
        this.hooks.frame(frame);
      }
    });
    ws.addEventListener("close", (event: { code: number; reason: string }) => finish(event.code, event.reason));
    // an `error` is followed by `close`; a runtime that skipped it would leave us waiting forever
    ws.addEventListener("error", () => {
      setTimeout(() => finish(1006, "socket error"), 2000);
    });
  }

  private async next(gen: number, verdict: Verdict): Promise<void> {
    if (gen !== this.gen || this.state === "stopped") return;
    if (verdict.stop) return this.stop();
    // "immediate" still takes a little jitter, so a loop of instant failures cannot spin
    const delay = verdict.immediate
      ? Math.min(250, this.o.backoff.next())
      : Math.max(verdict.minDelayMs ?? 0, this.o.backoff.next());
    this.setState("waiting");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.attempt();
    }, delay);
  }

  private ping(): void {
    if (this.state !== "open" || !this.ws) return;
    try {
      this.ws.send(PING_FRAME);
    } catch {
      return;
    }
    if (this.pongTimer) return;
    const ws = this.ws;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.ws !== ws) return;
      safeClose(ws, DEAD_CODE, "no pong");
      this.finish?.(1006, "no pong in time");
    }, this.o.pongTimeoutMs ?? PONG_TIMEOUT_MS);
  }

  /** Anything from the server proves the socket alive, a pong or any other frame. */
  private heard(): void {
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.hooks.state?.(state);
  }

  private clearSocketTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.heartbeat = this.pongTimer = this.connectTimer = null;
  }

  private clearTimers(): void {
    this.clearSocketTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

/**
 * Closes without throwing. Browsers accept only 1000 and 3000-4999 from a client and a reason of
 * at most 123 bytes; a code they refuse (1008, say) falls back to 1000.
 */
export function safeClose(ws: WebSocketLike, code: number, reason: string): void {
  const short = truncateUtf8(reason, 123);
  try {
    ws.close(code, short);
  } catch {
    try {
      ws.close(1000, short);
    } catch {
      // already closed
    }
  }
}

function truncateUtf8(s: string, maxBytes: number): string {
  const enc = new TextEncoder();
  if (enc.encode(s).length <= maxBytes) return s;
  let out = "";
  for (const ch of s) {
    if (enc.encode(out + ch).length > maxBytes) break;
    out += ch;
  }
  return out;
}
