// UserSession: one Durable Object per user, the control plane. It holds the session socket of
// each of the user's devices; presence is "holds at least one". On the first socket it subscribes
// to the user's rooms (so rooms know who is online without asking) and on the last it
// unsubscribes. Rooms tell it about activity, which it forwards to the devices that do not have
// that room's stream open, and it keeps the per-room cache behind GET /v1/rooms.
import { DurableObject } from "cloudflare:workers";
import { openDb } from "../../db/client.js";
import { watchableAmong } from "../../db/presence-scope.js";
import { activeRoomIdsOf } from "../../db/room-snapshot.js";
import {
  PING_FRAME,
  PONG_FRAME,
  SOCKET_CLAIMS_HEADER,
  SessionClientFrame,
  type ActivityAnswer,
  type ActivityEvent,
  type PresenceStatus,
  type RoomEvent,
  type RoomSummary,
  type ServerFrame,
  type SocketClaims,
} from "../../protocol/index.js";
import { verifyAccessToken } from "../../workers/auth/access-tokens.js";
import type { Env } from "../../workers/env.js";
import { AlarmSlot } from "../shared/alarm.js";
import { realtimeConfig, type RealtimeConfig } from "../shared/config.js";
import { errorFrame, parseClientFrame } from "../shared/frames.js";
import { mapLimit } from "../shared/parallel.js";
import { CloseCode, HeldSockets, socketInfo, sweepSockets, trySend, type SocketInfo } from "../shared/sockets.js";
import { TokenBuckets } from "../shared/token-bucket.js";
import { SessionStore } from "./store.js";

/** rooms subscribed to (or asked) at once: enough to be quick, few enough not to flood the runtime */
const ROOM_PARALLELISM = 16;

export interface PresenceAnswer {
  status: PresenceStatus;
  last_seen_at?: string;
}

export class UserSession extends DurableObject<Env> {
  private readonly store: SessionStore;
  private readonly cfg: RealtimeConfig;
  private readonly alarmSlot: AlarmSlot;
  private readonly held: HeldSockets;
  /** watch_presence costs a query and up to 200 calls: a device may ask a few times, then once in a while */
  private readonly watchLimits = new TokenBuckets({ perSecond: 0.2, burst: 5 });
  /** the subscription round in flight, so going offline can wait for it and undo all of it */
  private subscribing: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = realtimeConfig(env as unknown as Record<string, unknown>);
    this.store = new SessionStore(ctx.storage.sql);
    this.alarmSlot = new AlarmSlot(ctx.storage);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.held = new HeldSockets(ctx);
  }

  private get sockets(): Map<WebSocket, SocketInfo> {
    return this.held.all;
  }

  private get online(): boolean {
    return this.sockets.size > 0;
  }

  private remember(userId: string): void {
    if (this.store.get("user_id") !== userId) this.store.set("user_id", userId);
  }

  // ---------------------------------------------------------------- session sockets

  override async fetch(request: Request): Promise<Response> {
    const claims = JSON.parse(request.headers.get(SOCKET_CLAIMS_HEADER) ?? "null") as SocketClaims | null;
    if (!claims || request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("expected a WebSocket upgrade", { status: 400 });
    if (!this.store.useTicket(claims.ticket_id, claims.ticket_expires_at)) {
      return Response.json(
        { error: { code: "unauthorized", message: "this ticket was already used; get a new one" } },
        { status: 401 },
      );
    }
    this.remember(claims.user_id);
    const wasOnline = this.online;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const now = Date.now();
    const info: SocketInfo = { u: claims.user_id, d: claims.device_id, t: claims.token_expires_at, o: now, s: now };
    this.held.accept(server, info, [`d:${claims.device_id}`]);
    if (!wasOnline) this.ctx.waitUntil(this.goOnline(claims.user_id));
    await this.alarmSlot.request(now + Math.min(this.cfg.silentSocketMs, Math.max(1000, info.t - now)));
    return new Response(null, { status: 101, webSocket: client });
  }

  private async goOnline(userId: string): Promise<void> {
    this.store.set("online_since", String(Date.now()));
    const round = (async () => {
      const handle = openDb(this.env);
      let roomIds: string[];
      try {
        roomIds = await activeRoomIdsOf(handle.db, userId);
      } finally {
        this.ctx.waitUntil(handle.close().catch(() => {}));
      }
      await this.subscribeRooms(userId, roomIds);
    })();
    this.subscribing = round.catch((err: unknown) => console.warn(`subscribing ${userId} failed: ${String(err)}`));
    await Promise.all([this.subscribing, this.announce(userId, "online")]);
  }

  private async subscribeRooms(userId: string, roomIds: string[]): Promise<void> {
    const answers = await mapLimit(roomIds, ROOM_PARALLELISM, (roomId) => this.room(roomId).subscribe(roomId, userId));
    answers.forEach((a, i) => {
      const roomId = roomIds[i]!;
      if (a instanceof Error) console.warn(`subscribe to ${roomId} failed: ${a.message}`);
      else if (a) this.store.replaceSummary(a);
      else this.store.dropRoom(roomId);
    });
  }

  private async goOffline(userId: string): Promise<void> {
    const now = Date.now();
    this.store.set("last_seen", String(now));
    this.store.clearWatching();
    await this.subscribing;
    // a socket may have come back while we waited: then we are online again, nothing to undo
    if (this.online) return;
    const rooms = this.store.cachedRoomIds();
    await Promise.all([
      mapLimit(rooms, ROOM_PARALLELISM, (roomId) => this.room(roomId).unsubscribe(roomId, userId)),
      this.announce(userId, "offline", new Date(now).toISOString()),
    ]);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const info = this.held.touch(ws, Date.now());
    if (!info) return this.close(ws, CloseCode.policy, "unknown socket");
    const parsed = parseClientFrame(raw, SessionClientFrame);
    if (!parsed.ok) return this.refuse(ws, parsed.error);
    const frame = parsed.frame;
    switch (frame.type) {
      case "ping":
        trySend(ws, PONG_FRAME);
        return;
      case "auth": {
        const auth = await verifyAccessToken(this.env, frame.access_token);
        if (!auth || auth.userId !== info.u)
          return this.refuse(
            ws,
            errorFrame("unauthorized", "that access token is not valid for this socket", frame.id),
          );
        this.held.update(ws, { ...info, t: auth.expiresAt });
        return;
      }
      case "watch_presence": {
        const wait = this.watchLimits.take(info.d);
        if (wait > 0)
          return this.refuse(
            ws,
            errorFrame("rate_limited", "watch_presence too often; the current list stays watched", frame.id, wait),
            false,
          );
        return this.watchPresence(ws, info, frame.user_ids);
      }
    }
  }

  /** Answers with the current status of each watchable user, then keeps the device told of changes. */
  private async watchPresence(ws: WebSocket, info: SocketInfo, userIds: string[]): Promise<void> {
    const handle = openDb(this.env);
    let allowed: string[];
    try {
      allowed = [...(await watchableAmong(handle.db, info.u, userIds))];
    } finally {
      this.ctx.waitUntil(handle.close().catch(() => {}));
    }
    this.store.setWatching(info.d, allowed);
    const answers = await mapLimit(allowed, ROOM_PARALLELISM, (target) => this.sessionOf(target).watch(target, info.u));
    answers.forEach((a, i) => {
      if (a instanceof Error) return;
      trySend(
        ws,
        JSON.stringify({
          type: "presence",
          user_id: allowed[i]!,
          status: a.status,
          ...(a.last_seen_at ? { last_seen_at: a.last_seen_at } : {}),
        } satisfies ServerFrame),
      );
    });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.dropSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.dropSocket(ws, 1011, "socket error");
  }

  private async dropSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
    // a socket we closed ourselves was already handled where we closed it
    const info = this.held.closed(ws, code, reason);
    if (!info) return;
    if ([...this.sockets.values()].every((i) => i.d !== info.d)) this.store.clearWatching(info.d);
    if (!this.online) await this.goOffline(info.u);
  }

  // ---------------------------------------------------------------- RPC from rooms and the API

  /** A room moved on: tell each device that does not hold the room's stream. */
  async activity(userId: string, event: ActivityEvent): Promise<ActivityAnswer> {
    if (!this.online) return { online: false };
    this.remember(userId);
    const s = this.store.putSummary({
      room_id: event.room_id,
      last_seq: event.last_seq,
      read_seq: event.read_seq,
      last_message: event.message ?? null,
    });
    const skip = new Set(event.stream_devices);
    const frame = JSON.stringify({
      type: "activity",
      room_id: event.room_id,
      last_seq: s.last_seq,
      unread_count: Math.max(0, s.last_seq - s.read_seq),
      ...(event.message ? { message: event.message } : {}),
      ...(event.mentioned ? { mentioned: true } : {}),
    } satisfies ServerFrame);
    for (const [ws, info] of this.sockets) if (!skip.has(info.d)) trySend(ws, frame);
    return { online: true };
  }

  /** One of the user's devices read a room: the others catch up. */
  async readSync(userId: string, roomId: string, readSeq: number, fromDevice: string): Promise<void> {
    this.remember(userId);
    const cached = this.store.cached([roomId]).get(roomId);
    if (cached) this.store.putSummary({ ...cached, read_seq: readSeq });
    const frame = JSON.stringify({ type: "read_sync", room_id: roomId, read_seq: readSeq } satisfies ServerFrame);
    for (const [ws, info] of this.sockets) if (info.d !== fromDevice) trySend(ws, frame);
  }

  /** The user joined, left or was removed from a room, or it changed: tell the devices, follow it. */
  async roomEvent(userId: string, roomId: string, event: RoomEvent): Promise<void> {
    // offline: nothing to tell, and nothing to store (the next subscription round starts afresh)
    if (!this.online) return;
    this.remember(userId);
    if (event === "member_removed") this.store.dropRoom(roomId);
    if (event === "created" || event === "member_added") await this.subscribeRooms(userId, [roomId]);
    const frame = JSON.stringify({ type: "room", room_id: roomId, event } satisfies ServerFrame);
    for (const ws of this.sockets.keys()) trySend(ws, frame);
  }

  /**
   * Summaries for GET /v1/rooms. While online the cache is kept current by activity; otherwise
   * (and for rooms it has not seen) it asks the rooms themselves.
   */
  async summaries(userId: string, roomIds: string[]): Promise<Record<string, RoomSummary>> {
    this.remember(userId);
    const cached = this.store.cached(roomIds);
    const ask = this.online ? roomIds.filter((id) => !cached.has(id)) : roomIds;
    const answers = await mapLimit(ask, ROOM_PARALLELISM, (roomId) => this.room(roomId).summary(roomId, userId));
    answers.forEach((a, i) => {
      if (a instanceof Error || !a) return;
      this.store.replaceSummary(a);
      cached.set(ask[i]!, a);
    });
    const asked = new Set(roomIds);
    return Object.fromEntries([...cached].filter(([id]) => asked.has(id)));
  }

  /** Another user's session wants to hear this user's presence. */
  async watch(userId: string, watcherId: string): Promise<PresenceAnswer> {
    this.remember(userId);
    this.store.addWatcher(watcherId, Date.now());
    return this.presenceOf();
  }

  async presence(userId: string): Promise<PresenceAnswer> {
    this.remember(userId);
    return this.presenceOf();
  }

  private presenceOf(): PresenceAnswer {
    if (this.online) return { status: "online" };
    const last = this.store.get("last_seen");
    return { status: "offline", ...(last ? { last_seen_at: new Date(Number(last)).toISOString() } : {}) };
  }

  /** A user this one watches came online or went offline; false when no device watches them any more. */
  async presenceChanged(
    userId: string,
    who: string,
    status: PresenceStatus,
    lastSeenAt?: string,
  ): Promise<{ watching: boolean }> {
    this.remember(userId);
    const devices = new Set(this.store.devicesWatching(who));
    if (!this.online || devices.size === 0) return { watching: false };
    const frame = JSON.stringify({
      type: "presence",
      user_id: who,
      status,
      ...(lastSeenAt ? { last_seen_at: lastSeenAt } : {}),
    } satisfies ServerFrame);
    let sent = false;
    for (const [ws, info] of this.sockets) if (devices.has(info.d)) sent = trySend(ws, frame) || sent;
    return { watching: sent };
  }

  private async announce(userId: string, status: PresenceStatus, lastSeenAt?: string): Promise<void> {
    const watchers = this.store.watchers();
    if (watchers.length === 0) return;
    const answers = await mapLimit(watchers, ROOM_PARALLELISM, (w) =>
      this.sessionOf(w).presenceChanged(w, userId, status, lastSeenAt),
    );
    this.store.removeWatchers(
      watchers.filter((_, i) => {
        const a = answers[i];
        return !(a instanceof Error) && a !== undefined && !a.watching;
      }),
    );
  }

  /** Logout of one device: its session socket and its room streams close. */
  async closeDevice(userId: string, deviceId: string): Promise<number> {
    return this.closeWhere(userId, (info) => info.d === deviceId, CloseCode.loggedOut, "logged out", deviceId);
  }

  /** Suspension (or deletion): every socket of the user closes. */
  async closeAll(userId: string): Promise<number> {
    return this.closeWhere(userId, () => true, CloseCode.suspended, "the account is no longer active");
  }

  private async closeWhere(
    userId: string,
    match: (i: SocketInfo) => boolean,
    code: number,
    reason: string,
    deviceId?: string,
  ): Promise<number> {
    this.remember(userId);
    let closed = 0;
    const wasOnline = this.online;
    for (const [ws, info] of [...this.sockets]) {
      if (!match(info)) continue;
      this.close(ws, code, reason);
      closed++;
    }
    // streams live on the rooms; the rooms the user belongs to close theirs too
    const rooms = this.store.cachedRoomIds();
    const results = await mapLimit(rooms, ROOM_PARALLELISM, (roomId) =>
      this.room(roomId).closeStreams(roomId, userId, deviceId ?? null, code, reason),
    );
    for (const r of results) if (typeof r === "number") closed += r;
    if (wasOnline && !this.online) await this.goOffline(userId);
    return closed;
  }

  async inspect(): Promise<{ online: boolean; devices: string[]; rooms: string[]; watchers: string[] }> {
    return {
      online: this.online,
      devices: [...this.sockets.values()].map((i) => i.d),
      rooms: this.store.cachedRoomIds(),
      watchers: this.store.watchers(),
    };
  }

  // ---------------------------------------------------------------- alarm and helpers

  override async alarm(): Promise<void> {
    const wasOnline = this.online;
    const now = Date.now();
    const next = sweepSockets(
      this.ctx,
      (ws) => this.sockets.get(ws) ?? socketInfo(ws),
      now,
      this.cfg.silentSocketMs,
      (ws, code, reason) => this.close(ws, code, reason),
    );
    const userId = this.store.get("user_id");
    if (wasOnline && !this.online && userId) await this.goOffline(userId);
    await this.alarmSlot.reset(next, now);
  }

  private room(roomId: string) {
    return this.env.CHAT_ROOM.get(this.env.CHAT_ROOM.idFromName(roomId));
  }

  private sessionOf(userId: string) {
    return this.env.USER_SESSION.get(this.env.USER_SESSION.idFromName(userId));
  }

  private refuse(ws: WebSocket, error: ServerFrame, malformed = true): void {
    this.held.refuse(ws, error, malformed);
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    this.held.close(ws, code, reason);
  }
}
