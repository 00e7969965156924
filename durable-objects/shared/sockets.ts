// The one socket host of both objects: it accepts ticketed sockets with the hibernation API,
// remembers who is behind each, sends, broadcasts, re-authenticates, closes, and says when its
// next silent or expired socket is due. ChatRoom and UserSession differ only in what they do
// with the frames, never in this bookkeeping.
//
// Closing. A hibernatable socket that the object closes from outside that socket's own event (an
// RPC, the alarm) gets its close frame at once, but workerd keeps the TCP connection until the
// object goes idle ~10 s later, so a client's `close` event comes 10 s late (README: "Closes and
// the closing frame" has a reproduction). A close the client starts completes at once. So the
// host sends `{type:"closing", code, reason}` and stops talking to the socket; the client answers
// with its own close (the SDK does), which the host echoes with the same code. A client that does
// not answer within CLOSING_GRACE_MS is closed by the host.
import type { ServerFrame, SocketClaims } from "../../protocol/index.js";
import { CloseCode, closeDecision, echoCode, nextCheck } from "./close-rules.js";
import { FrameBudget } from "./frame-budget.js";
import { SocketCaps } from "./socket-caps.js";
import { errorFrame } from "./frames.js";
import { packFrames } from "../../protocol/batch.js";
import type { BucketConfig } from "./token-bucket.js";

export { CloseCode, closeDecision, echoCode, nextCheck, type CloseDecision } from "./close-rules.js";

/** Who is behind a socket; kept in memory, and on the socket's attachment so it survives eviction. */
export interface SocketInfo {
  userId: string;
  deviceId: string;
  /** epoch ms when the access token behind the socket expires */
  tokenExpiresAt: number;
  /** epoch ms the socket opened */
  openedAt: number;
  /** epoch ms of the last frame we saw (stored at most every few seconds) */
  seenAt: number;
  /** the client reads several frames from one message (a stream opened with `batch=1`) */
  batch?: boolean;
}

// The attachment is written on every open and re-auth and read back after each wake: short keys
// keep a thousand of them cheap. Nothing outside this file sees these names.
interface Attachment {
  u: string;
  d: string;
  t: number;
  o: number;
  s: number;
  b?: 1;
  /** closing: [deadline, code, reason] (the socket is no longer held, only waited for) */
  x?: [number, number, string];
}
const toAttachment = (i: SocketInfo): Attachment => ({
  u: i.userId,
  d: i.deviceId,
  t: i.tokenExpiresAt,
  o: i.openedAt,
  s: i.seenAt,
  ...(i.batch ? { b: 1 as const } : {}),
});

function rawAttachment(ws: WebSocket): Attachment | null {
  try {
    return (ws.deserializeAttachment() as Attachment | null) ?? null;
  } catch {
    return null;
  }
}

/** The info of a socket still held (null for one that is closing, or not ours). */
function readAttachment(ws: WebSocket): SocketInfo | null {
  const a = rawAttachment(ws);
  if (!a || a.x) return null;
  const info: SocketInfo = { userId: a.u, deviceId: a.d, tokenExpiresAt: a.t, openedAt: a.o, seenAt: a.s };
  if (a.b) info.batch = true;
  return info;
}

/** Sends if the socket is still open; a socket closing under us is not an error of the sender. */
export function trySend(ws: WebSocket, data: string): boolean {
  try {
    ws.send(data);
    return true;
  } catch {
    return false;
  }
}

/** Bad frames a socket may send before it is closed for abuse (1008). */
export const MAX_BAD_FRAMES = 20;
/** How long a client has to answer a `closing` frame with its own close before the host closes it. */
export const CLOSING_GRACE_MS = 1000;
/** A sweep is never closer than this after the last: a socket right at its deadline costs one wake. */
const SWEEP_GAP_MS = 1000;

export type TokenVerifier = (token: string) => Promise<{ userId: string; expiresAt: number } | null>;

export interface SocketHostOptions {
  silentMs: number;
  /** checks an `auth` frame's access token */
  verify: TokenVerifier;
  /** hears of every socket that leaves, by the peer's close, an error, or our own close */
  onGone?: (info: SocketInfo) => void;
  /** the host needs the object's alarm at this time (a closing socket's deadline) */
  wake?: (at: number) => void;
  /** sockets one user may hold here, and one of their devices (unset: no cap) */
  maxPerUser?: number;
  maxPerDevice?: number;
  /** each socket's frame budget (unset: none) */
  frames?: BucketConfig;
}

const userTag = (userId: string) => `u:${userId}`;
const deviceTag = (deviceId: string) => `d:${deviceId}`;

/**
 * The sockets an object holds, with their attachments kept in memory (so a broadcast never
 * deserializes a thousand of them) and the count of bad frames each sent. Rebuilt from the
 * runtime after the object wakes from hibernation.
 */
export class SocketHost {
  private readonly held = new Map<WebSocket, SocketInfo>();
  private readonly badFrames = new WeakMap<WebSocket, number>();
  /** devicesByUser() until the held sockets change */
  private devices: Map<string, string[]> | null = null;
  /**
   * Sockets sent a `closing` frame, with the deadline, code and reason of their close. Deadlines
   * are `now + grace` when added, so the first entry is always the earliest: no scan per look.
   */
  private readonly closing = new Map<WebSocket, [number, number, string]>();
  /** when the next socket is due for a look; undefined until the first sweep of this instance */
  private nextSweep: number | null | undefined;
  private readonly caps: SocketCaps;
  private readonly budget: FrameBudget | null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly opts: SocketHostOptions,
  ) {
    this.budget = opts.frames ? new FrameBudget(opts.frames) : null;
    this.caps = new SocketCaps(opts);
    const closing: Array<[WebSocket, [number, number, string]]> = [];
    for (const ws of ctx.getWebSockets()) {
      const a = rawAttachment(ws);
      if (a?.x) closing.push([ws, a.x]);
      else if (a) this.hold(ws, readAttachment(ws)!);
    }
    for (const entry of closing.sort((p, q) => p[1][0] - q[1][0])) this.closing.set(...entry);
  }

  get size(): number {
    return this.held.size;
  }

  entries(): IterableIterator<[WebSocket, SocketInfo]> {
    return this.held.entries();
  }

  infos(): IterableIterator<SocketInfo> {
    return this.held.values();
  }

  hasUser(userId: string): boolean {
    return this.caps.hasUser(userId);
  }

  /** Whether this user's device still holds a socket here. */
  hasDevice(userId: string, deviceId: string): boolean {
    return this.caps.hasDevice(userId, deviceId);
  }

  /**
   * The devices of each user holding a socket here. Kept until a socket comes or goes: a
   * 1,000-member room asks on every commit, and rebuilding it each time was a large part of the
   * garbage its fan-out made (README, Benchmarks). Read it, never change it.
   */
  devicesByUser(): ReadonlyMap<string, readonly string[]> {
    if (this.devices) return this.devices;
    const out = new Map<string, string[]>();
    for (const info of this.held.values()) {
      const list = out.get(info.userId);
      if (list) list.push(info.deviceId);
      else out.set(info.userId, [info.deviceId]);
    }
    return (this.devices = out);
  }

  /**
   * Accepts the socket a verified ticket opens, once: `useTicket` records the ticket's id and
   * says false when it was used before. The caller sends what must come first, then returns
   * `client` in its 101. A socket over the user's or device's cap is `refused`: it is accepted
   * only to tell the client why (a browser cannot read the status of a refused upgrade): an
   * `error` frame (rate_limited), then a close with CloseCode.tooManySockets.
   */
  acceptTicketed(
    claims: SocketClaims,
    useTicket: (id: string, expiresAt: number) => boolean,
    now: number,
    opts: { batch?: boolean } = {},
  ): { client: WebSocket; server: WebSocket; info: SocketInfo; refused: boolean } | null {
    if (!useTicket(claims.ticket_id, claims.ticket_expires_at)) return null;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const info: SocketInfo = {
      userId: claims.user_id,
      deviceId: claims.device_id,
      tokenExpiresAt: claims.token_expires_at,
      openedAt: now,
      seenAt: now,
      ...(opts.batch ? { batch: true } : {}),
    };
    this.ctx.acceptWebSocket(server, [userTag(info.userId), deviceTag(info.deviceId)]);
    server.serializeAttachment(toAttachment(info));
    const over = this.caps.refusal(info);
    if (over) {
      trySend(server, JSON.stringify(errorFrame("rate_limited", over)));
      this.close(server, CloseCode.tooManySockets, over, now);
      return { client, server, info, refused: true };
    }
    this.hold(server, info);
    this.noteDue(nextCheck(info, null, this.opts.silentMs));
    return { client, server, info, refused: false };
  }

  /**
   * A frame arrived: the socket's info (its last-seen time moved on), or null when the frame must
   * be dropped. A socket that is not held is closed; a frame over the socket's budget is answered
   * `rate_limited`, and a socket that keeps flooding is closed (1008).
   */
  admit(ws: WebSocket, now: number): SocketInfo | null {
    const info = this.touch(ws, now);
    if (!info) {
      this.close(ws, CloseCode.policy, "unknown socket", now);
      return null;
    }
    const verdict = this.budget?.spend(ws, now) ?? { ok: true };
    if (verdict.ok) return info;
    if (verdict.close) {
      this.close(ws, CloseCode.policy, "too many frames; mind retry_after_ms", now);
      return null;
    }
    const error = errorFrame(
      "rate_limited",
      "too many frames on this socket; slow down",
      undefined,
      verdict.retryAfterMs,
    );
    trySend(ws, JSON.stringify(error));
    return null;
  }

  /** The socket's info, its last-seen time moved on (stored at most every 5 s). */
  touch(ws: WebSocket, now: number): SocketInfo | null {
    const info = this.held.get(ws) ?? readAttachment(ws);
    if (!info) return null;
    if (now - info.seenAt > 5000) {
      info.seenAt = now;
      ws.serializeAttachment(toAttachment(info));
    }
    return info;
  }

  /** An `auth` frame: a valid token of the same user moves the socket's expiry on. */
  async reauth(ws: WebSocket, info: SocketInfo, token: string, ref?: string): Promise<boolean> {
    const auth = await this.opts.verify(token);
    if (!auth || auth.userId !== info.userId) {
      this.refuse(ws, errorFrame("unauthorized", "that access token is not valid for this socket", ref));
      return false;
    }
    // the socket may have been closed while the token was checked: it stays closed
    if (!this.held.has(ws)) return false;
    const renewed = { ...info, tokenExpiresAt: auth.expiresAt };
    ws.serializeAttachment(toAttachment(renewed));
    this.held.set(ws, renewed);
    return true;
  }

  send(ws: WebSocket, frame: ServerFrame | string): boolean {
    return trySend(ws, typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** One serialization for every socket, except `skip` and the sockets of `exceptUser`. */
  broadcast(frame: ServerFrame | string, opts: { skip?: WebSocket; exceptUser?: string } = {}): void {
    const data = typeof frame === "string" ? frame : JSON.stringify(frame);
    for (const [ws, info] of this.held) if (ws !== opts.skip && info.userId !== opts.exceptUser) trySend(ws, data);
  }

  /**
   * The frames of one moment (a commit): `shared` to every held socket, then each socket's `own`
   * frames (its acks; a socket no longer held still gets those). A socket that reads batches gets
   * them packed (protocol/batch.ts); `shared` is packed once for all of them.
   */
  deliver(shared: readonly string[], own: ReadonlyMap<WebSocket, readonly string[]> = new Map()): void {
    let packed: string[] | undefined;
    for (const [ws, info] of this.held) {
      const mine = own.get(ws);
      if (info.batch) {
        const out = mine?.length ? packFrames([...shared, ...mine]) : (packed ??= packFrames(shared));
        for (const data of out) trySend(ws, data);
        continue;
      }
      for (const data of shared) trySend(ws, data);
      if (mine) for (const data of mine) trySend(ws, data);
    }
    for (const [ws, mine] of own) {
      if (this.held.has(ws)) continue;
      for (const data of mine) trySend(ws, data);
    }
  }

  sendToUser(userId: string, frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(userTag(userId))) if (this.held.has(ws)) trySend(ws, data);
  }

  /**
   * Answers a frame with an error. A malformed frame counts toward closing an abusive socket;
   * a refusal the client could not have foreseen (a role, a rate) does not: `{ counts: false }`.
   */
  refuse(ws: WebSocket, error: ServerFrame, opts: { counts?: boolean } = {}): void {
    trySend(ws, JSON.stringify(error));
    if (opts.counts === false) return;
    const n = (this.badFrames.get(ws) ?? 0) + 1;
    this.badFrames.set(ws, n);
    if (n > MAX_BAD_FRAMES) this.close(ws, CloseCode.policy, "too many invalid frames");
  }

  /**
   * Starts closing a socket: it hears nothing more from now on, gets a `closing` frame, and is
   * closed by the host if the client has not closed it itself by the deadline.
   */
  close(ws: WebSocket, code: number, reason: string, now = Date.now()): void {
    const deadline = this.startClose(ws, code, reason, now);
    if (deadline !== null) this.opts.wake?.(deadline);
  }

  /** The closing deadline, or null when there is nothing to wait for. */
  private startClose(ws: WebSocket, code: number, reason: string, now: number): number | null {
    if (this.closing.has(ws)) return null;
    const a = rawAttachment(ws);
    this.forget(ws);
    if (!a) {
      this.hardClose(ws, code, reason);
      return null;
    }
    const x: [number, number, string] = [now + CLOSING_GRACE_MS, code, reason];
    trySend(ws, JSON.stringify({ type: "closing", code, reason } satisfies ServerFrame));
    ws.serializeAttachment({ ...a, x } satisfies Attachment);
    this.closing.set(ws, x);
    return x[0];
  }

  /** Closes every socket that `match` picks; how many. One pass, one alarm request. */
  closeWhere(match: (info: SocketInfo) => boolean, code: number, reason: string, now = Date.now()): number {
    const picked: WebSocket[] = [];
    for (const [ws, info] of this.held) if (match(info)) picked.push(ws);
    let deadline: number | null = null;
    for (const ws of picked) deadline = this.startClose(ws, code, reason, now) ?? deadline;
    if (deadline !== null) this.opts.wake?.(deadline);
    return picked.length;
  }

  /** The object drops its state (and its alarm): every socket, closing ones too, closes now. */
  dropAll(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      this.forget(ws);
      this.hardClose(ws, code, reason);
    }
  }

  /** The runtime reported the peer's close (or an error): finish the handshake and forget it. */
  closed(ws: WebSocket, code: number, reason: string): SocketInfo | undefined {
    const info = this.forget(ws);
    this.hardClose(ws, echoCode(code), reason);
    return info;
  }

  private hardClose(ws: WebSocket, code: number, reason: string): void {
    this.closing.delete(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** When the next socket is due for a look (silence or expiry), or null when none is held. */
  dueAt(): number | null {
    const closingDue = this.closing.values().next().value?.[0] ?? null;
    if (this.held.size === 0) return closingDue;
    if (this.nextSweep === undefined) {
      let next = Infinity;
      for (const [ws, info] of this.held) next = Math.min(next, nextCheck(info, this.lastPing(ws), this.opts.silentMs));
      this.nextSweep = next;
    }
    return closingDue === null ? this.nextSweep : Math.min(closingDue, this.nextSweep ?? Infinity);
  }

  /** The alarm's sweep: closes every socket whose token expired or that fell silent. */
  sweep(now: number): void {
    let next: number | null = null;
    // clients that did not answer their `closing` frame in time
    for (const [ws, [deadline, code, reason]] of [...this.closing]) {
      if (deadline > now) break;
      this.hardClose(ws, code, reason);
    }
    for (const [ws, info] of [...this.held]) {
      const lastPing = this.lastPing(ws);
      const decision = closeDecision(info, lastPing, now, this.opts.silentMs);
      if (decision) this.close(ws, decision.code, decision.reason);
      else next = Math.min(next ?? Infinity, nextCheck(info, lastPing, this.opts.silentMs));
    }
    this.nextSweep = next === null ? null : Math.max(next, now + SWEEP_GAP_MS);
  }

  private noteDue(at: number): void {
    if (this.nextSweep !== undefined) this.nextSweep = Math.min(this.nextSweep ?? Infinity, at);
  }

  private lastPing(ws: WebSocket): number | null {
    return this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null;
  }

  private hold(ws: WebSocket, info: SocketInfo): void {
    this.devices = null;
    this.held.set(ws, info);
    this.caps.add(info);
  }

  private forget(ws: WebSocket): SocketInfo | undefined {
    const info = this.held.get(ws);
    if (!info) return undefined;
    this.devices = null;
    this.held.delete(ws);
    this.caps.remove(info);
    this.opts.onGone?.(info);
    return info;
  }
}
