// What an object remembers about each socket it holds (the hibernation attachment, which
// survives eviction) and the rules for closing sockets from its alarm.
export interface SocketInfo {
  /** user id */
  u: string;
  /** device id */
  d: string;
  /** epoch ms when the access token behind the socket expires */
  t: number;
  /** epoch ms the socket opened */
  o: number;
  /** epoch ms of the last frame we saw (stored at most every few seconds) */
  s: number;
}

export const CloseCode = {
  normal: 1000,
  policy: 1008,
  tokenExpired: 4001,
  silent: 4002,
  removed: 4003,
  loggedOut: 4004,
  suspended: 4005,
  roomGone: 4006,
} as const;

export function socketInfo(ws: WebSocket): SocketInfo | null {
  try {
    return (ws.deserializeAttachment() as SocketInfo | null) ?? null;
  } catch {
    return null;
  }
}

export interface CloseDecision {
  code: number;
  reason: string;
}

/** Why a socket must close now, or null. `lastPing` is the runtime's auto-response timestamp. */
export function closeDecision(
  info: SocketInfo,
  lastPing: number | null,
  now: number,
  silentMs: number,
): CloseDecision | null {
  if (now >= info.t)
    return {
      code: CloseCode.tokenExpired,
      reason: "access token expired; reconnect, or send an auth frame before it expires",
    };
  const lastHeard = Math.max(info.o, info.s, lastPing ?? 0);
  if (now - lastHeard >= silentMs)
    return {
      code: CloseCode.silent,
      reason: `silent for ${Math.round(silentMs / 1000)} s; send {"type":"ping"} every 25 s`,
    };
  return null;
}

/** When the sweep must look at this socket next. */
export function nextCheck(info: SocketInfo, lastPing: number | null, silentMs: number): number {
  const lastHeard = Math.max(info.o, info.s, lastPing ?? 0);
  return Math.min(info.t, lastHeard + silentMs);
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

/**
 * The alarm's socket sweep: closes every socket whose token expired or that fell silent, and
 * says when the next one is due for a look (null when no socket is left).
 */
export function sweepSockets(
  ctx: DurableObjectState,
  infoOf: (ws: WebSocket) => SocketInfo | null,
  now: number,
  silentMs: number,
  close: (ws: WebSocket, code: number, reason: string) => void,
): number | null {
  let next: number | null = null;
  for (const ws of ctx.getWebSockets()) {
    const info = infoOf(ws);
    if (!info) continue;
    const lastPing = ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null;
    const decision = closeDecision(info, lastPing, now, silentMs);
    if (decision) close(ws, decision.code, decision.reason);
    else next = Math.min(next ?? Infinity, nextCheck(info, lastPing, silentMs));
  }
  // never closer than a second apart, so a socket right at its deadline costs one wake
  return next === null ? null : Math.max(next, now + 1000);
}

/**
 * The sockets an object holds, with their attachments kept in memory (so a broadcast never
 * deserializes a thousand of them), the count of bad frames each sent, and one way to close
 * them. Rebuilt from the runtime after the object wakes from hibernation.
 */
export class HeldSockets {
  readonly all = new Map<WebSocket, SocketInfo>();
  private readonly badFrames = new WeakMap<WebSocket, number>();

  /** `onGone` hears of every socket that leaves, by close, error, or our own close */
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly onGone: (info: SocketInfo) => void = () => {},
  ) {
    for (const ws of ctx.getWebSockets()) {
      const info = socketInfo(ws);
      if (info) this.all.set(ws, info);
    }
  }

  get size(): number {
    return this.all.size;
  }

  accept(ws: WebSocket, info: SocketInfo, tags: string[]): void {
    this.ctx.acceptWebSocket(ws, tags);
    ws.serializeAttachment(info);
    this.all.set(ws, info);
  }

  /** The socket's attachment, its last-seen time moved on (stored at most every 5 s). */
  touch(ws: WebSocket, now: number): SocketInfo | null {
    const info = this.all.get(ws) ?? socketInfo(ws);
    if (!info) return null;
    if (now - info.s > 5000) {
      info.s = now;
      ws.serializeAttachment(info);
    }
    return info;
  }

  update(ws: WebSocket, info: SocketInfo): void {
    ws.serializeAttachment(info);
    this.all.set(ws, info);
  }

  /** Answers a frame with an error; malformed frames count toward closing an abusive socket. */
  refuse(ws: WebSocket, error: unknown, malformed = true): void {
    trySend(ws, JSON.stringify(error));
    if (!malformed) return;
    const n = (this.badFrames.get(ws) ?? 0) + 1;
    this.badFrames.set(ws, n);
    if (n > MAX_BAD_FRAMES) this.close(ws, CloseCode.policy, "too many invalid frames");
  }

  /** Forgets the socket; returns its attachment if it was still held. */
  forget(ws: WebSocket): SocketInfo | undefined {
    const info = this.all.get(ws);
    if (!info) return undefined;
    this.all.delete(ws);
    this.onGone(info);
    return info;
  }

  close(ws: WebSocket, code: number, reason: string): void {
    this.forget(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** The runtime reported the close (or an error): finish the handshake and forget it. */
  closed(ws: WebSocket, code: number, reason: string): SocketInfo | undefined {
    const info = this.forget(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
    return info;
  }
}
