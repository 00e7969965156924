// UserSession: one Durable Object per user, the control plane. It holds the session socket of
// each of the user's devices; presence is "holds at least one". On the first socket it subscribes
// to the user's rooms (so rooms know who is online without asking) and on the last it
// unsubscribes. Rooms tell it about activity, which it forwards to the devices that do not have
// that room's stream open, and it keeps the per-room cache behind GET /v1/rooms.
import { DurableObject } from "cloudflare:workers";
import { activeRoomIdsOf, markOffline, markOnline, watchableAmong, watchersAllowed, withDb } from "../../db/index.js";
import { verifyAccessToken } from "../../lib/auth-tokens/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import {
  PING_FRAME,
  PONG_FRAME,
  SessionClientFrame,
  type ActivityAnswer,
  type ActivityEvent,
  type PresenceStatus,
  type RoomEvent,
  type RoomSummary,
  type ServerFrame,
} from "../../protocol/index.js";
import type { ObjectEnv } from "../env.js";
import { Scheduler } from "../shared/alarm.js";
import { realtimeConfig } from "../shared/config.js";
import { errorFrame, parseClientFrame } from "../shared/frames.js";
import { CloseCode, SocketHost, type SocketInfo } from "../shared/sockets.js";
import { TokenBuckets } from "../shared/token-bucket.js";
import { claimsOf, jsonError } from "../shared/upgrade.js";
import { Presence, type PresenceAnswer } from "./presence.js";
import { SessionStore } from "./store.js";
import { ROOM_PARALLELISM, Subscriptions } from "./subscriptions.js";

export type { PresenceAnswer };

export class UserSession extends DurableObject<ObjectEnv> {
  private readonly store: SessionStore;
  private readonly sockets: SocketHost;
  private readonly alarms: Scheduler;
  private readonly presence: Presence;
  private readonly subs: Subscriptions;
  /** watch_presence costs a query and up to 200 calls: a device may ask a few times, then once in a while */
  private readonly watchLimits = new TokenBuckets({ perSecond: 0.2, burst: 5 });

  constructor(ctx: DurableObjectState, env: ObjectEnv) {
    super(ctx, env);
    const cfg = realtimeConfig(env as unknown as Record<string, unknown>);
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
    this.store = new SessionStore(ctx.storage.sql, cfg.retentionMs, Date.now, (at) => this.alarms.wake(at));
    this.sockets = new SocketHost(ctx, {
      silentMs: cfg.silentSocketMs,
      verify: (t) => verifyAccessToken(env, t),
      wake: (at) => this.alarms.wake(at),
      maxPerUser: cfg.socketsPerUser,
      maxPerDevice: cfg.socketsPerDevice,
      frames: { perSecond: cfg.framesPerSecond, burst: cfg.frameBurst },
    });
    const sweep = { dueAt: () => this.sockets.dueAt(), run: (now: number) => this.sweep(now) };
    const retention = {
      dueAt: () => this.store.retentionDueAt(),
      run: (now: number) => void this.store.pruneExpired(now),
    };
    this.alarms = new Scheduler(ctx.storage, waitUntil, [sweep, retention]);
    this.presence = new Presence({
      store: this.store,
      sockets: this.sockets,
      peer: (userId) => this.sessionOf(userId),
      watchable: async (userId, ids) => [...(await withDb(env, waitUntil, (db) => watchableAmong(db, userId, ids)))],
      allowedWatchers: async (userId, ids) => [
        ...(await withDb(env, waitUntil, (db) => watchersAllowed(db, userId, ids))),
      ],
    });
    this.subs = new Subscriptions({
      store: this.store,
      room: (roomId) => env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(roomId)),
      roomIdsOf: (userId, limit) => withDb(env, waitUntil, (db) => activeRoomIdsOf(db, userId, limit)),
      online: () => this.online,
      maxRooms: cfg.sessionSubscribeMaxRooms,
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  private get online(): boolean {
    return this.sockets.size > 0;
  }

  /**
   * The user this object belongs to: from its storage, else the name its stub was made with (the
   * runtime leaves `ctx.id.name` undefined when an alarm wakes a cold object). Stored on first use.
   */
  private userId(): string {
    const stored = this.store.get("user_id");
    if (stored) return stored;
    const name = this.ctx.id.name;
    if (!name) throw new Error("UserSession does not know its user yet");
    this.store.set("user_id", name);
    return name;
  }

  // ---------------------------------------------------------------- session sockets

  override async fetch(request: Request): Promise<Response> {
    const claims = claimsOf(request);
    if (!claims) return new Response("expected a WebSocket upgrade", { status: 400 });
    if (claims.user_id !== this.userId()) return jsonError(403, "forbidden", "this ticket is for another user");
    const wasOnline = this.online;
    const opened = this.sockets.acceptTicketed(claims, (id, exp) => this.store.useTicket(id, exp), Date.now());
    if (!opened) return jsonError(401, "unauthorized", "this ticket was already used; get a new one");
    if (!wasOnline && !opened.refused) {
      // the socket opens once the online hint is written: from then on no new room misses it
      const since = Date.now();
      this.store.set("online_since", String(since));
      await this.onlineHint(true, since);
      this.ctx.waitUntil(this.goOnline());
    }
    await this.alarms.reschedule();
    return new Response(null, { status: 101, webSocket: opened.client });
  }

  /** After the online hint (db/online-hint.ts): a room made meanwhile is listed here, or announced. */
  private async goOnline(): Promise<void> {
    await Promise.all([this.subs.subscribeAll(this.userId()), this.presence.announce("online")]);
  }

  /** users.online_since (db/online-hint.ts); a failure only costs announcements, so it is logged. */
  private async onlineHint(online: boolean, since: number): Promise<void> {
    const userId = this.userId();
    const at = new Date(since);
    await withDb(
      this.env,
      (p) => this.ctx.waitUntil(p),
      (db) => (online ? markOnline(db, userId, at) : markOffline(db, userId, at)),
    ).catch((err: unknown) => console.warn(`session ${userId}: online hint not written: ${String(err)}`));
  }

  private async goOffline(): Promise<void> {
    const now = Date.now();
    this.store.set("last_seen", String(now));
    this.store.clearWatching();
    await this.subs.settled();
    // a socket may have come back while we waited: then we are online again, nothing to undo
    if (this.online) return;
    const since = Number(this.store.get("online_since") ?? 0);
    await Promise.all([
      this.subs.unsubscribeAll(this.userId()),
      this.presence.announce("offline", new Date(now).toISOString()),
      since ? this.onlineHint(false, since) : null,
    ]);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const info = this.sockets.admit(ws, Date.now());
    if (!info) return;
    const parsed = parseClientFrame(raw, SessionClientFrame);
    if (!parsed.ok) return this.sockets.refuse(ws, parsed.error);
    const frame = parsed.frame;
    if (frame.type === "ping") return void this.sockets.send(ws, PONG_FRAME);
    if (frame.type === "auth") return void (await this.sockets.reauth(ws, info, frame.access_token, frame.id));
    const wait = this.watchLimits.take(info.deviceId);
    if (wait > 0) {
      const error = errorFrame(
        "rate_limited",
        "watch_presence too often; the current list stays watched",
        frame.id,
        wait,
      );
      return this.sockets.refuse(ws, error, { counts: false });
    }
    await this.presence.watchFor(ws, info.userId, info.deviceId, frame.user_ids);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.dropSocket(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.dropSocket(ws, 1011, "socket error");
  }

  private async dropSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
    // a socket we closed ourselves was already handled where we closed it
    const info = this.sockets.closed(ws, code, reason);
    if (!info) return;
    if (!this.sockets.hasDevice(info.userId, info.deviceId)) this.store.clearWatching(info.deviceId);
    if (!this.online) await this.goOffline();
  }

  // ---------------------------------------------------------------- RPC from rooms and the API

  /** A room moved on: tell each device that does not hold the room's stream. */
  async activity(event: ActivityEvent): Promise<ActivityAnswer> {
    if (!this.online) return { online: false };
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
    for (const [ws, info] of this.sockets.entries()) if (!skip.has(info.deviceId)) this.sockets.send(ws, frame);
    return { online: true };
  }

  /** One of the user's devices read a room: the others catch up. */
  async readSync(roomId: string, readSeq: number, fromDevice: string): Promise<void> {
    const cached = this.store.cached([roomId]).get(roomId);
    if (cached) this.store.putSummary({ ...cached, read_seq: readSeq });
    const frame = JSON.stringify({ type: "read_sync", room_id: roomId, read_seq: readSeq } satisfies ServerFrame);
    for (const [ws, info] of this.sockets.entries()) if (info.deviceId !== fromDevice) this.sockets.send(ws, frame);
  }

  /** The user joined, left or was removed from a room, or it changed: tell the devices, follow it. */
  async roomEvent(roomId: string, event: RoomEvent): Promise<void> {
    // leaving a room may end who sees whom, online or not
    if (event === "member_removed") await this.recheckPresence();
    // offline: nothing to tell, and nothing to store (the next subscription round starts afresh)
    if (!this.online) return;
    if (event === "member_removed") this.store.dropRoom(roomId);
    if (event === "created" || event === "member_added") await this.subs.subscribe(this.userId(), [roomId]);
    this.sockets.broadcast({ type: "room", room_id: roomId, event });
  }

  async summaries(roomIds: string[]): Promise<Record<string, RoomSummary>> {
    return this.subs.summaries(this.userId(), roomIds);
  }

  /** Another user's session wants to hear this user's presence. */
  async watch(watcherId: string): Promise<PresenceAnswer> {
    this.userId();
    return this.presence.watchedBy(watcherId, Date.now());
  }

  /** A block, a friend removal or a membership change: who may see whom is asked again. */
  async recheckPresence(): Promise<{ dropped: string[]; unwatched: string[] }> {
    return this.presence.recheck(this.userId());
  }

  /** `watcherId` may no longer see this user's presence. */
  async unwatch(watcherId: string): Promise<void> {
    this.userId();
    this.presence.unwatch(watcherId);
  }

  /** A user this one watches came online or went offline; false when no device watches them any more. */
  async presenceChanged(who: string, status: PresenceStatus, lastSeenAt?: string): Promise<{ watching: boolean }> {
    return this.presence.changed(who, status, lastSeenAt);
  }

  /** Logout of one device: its session socket and its room streams close. */
  async closeDevice(deviceId: string): Promise<number> {
    return this.closeWhere((info) => info.deviceId === deviceId, CloseCode.loggedOut, "logged out", deviceId);
  }

  /** Suspension (or deletion): every socket of the user closes. */
  async closeAll(): Promise<number> {
    return this.closeWhere(() => true, CloseCode.suspended, "the account is no longer active");
  }

  private async closeWhere(match: (i: SocketInfo) => boolean, code: number, reason: string, deviceId?: string) {
    const userId = this.userId();
    const wasOnline = this.online;
    let closed = this.sockets.closeWhere(match, code, reason);
    // Streams live on the rooms, and a device may hold one in a room this session never
    // subscribed to (beyond the first round's bound, or joined while offline): every room the
    // user is in closes theirs, asked with bounded parallelism.
    const rooms = await this.roomsOfUser(userId);
    const results = await mapLimit(rooms, ROOM_PARALLELISM, (roomId) =>
      this.env.CHAT_ROOM.get(this.env.CHAT_ROOM.idFromName(roomId)).closeStreams(
        userId,
        deviceId ?? null,
        code,
        reason,
      ),
    );
    for (const r of results) if (typeof r === "number") closed += r;
    if (wasOnline && !this.online) await this.goOffline();
    return closed;
  }

  /** The rooms this session knows of, and every room PostgreSQL says the user is in (when it answers). */
  private async roomsOfUser(userId: string): Promise<string[]> {
    const known = [...this.store.cachedRoomIds(), ...this.store.subscribedRoomIds()];
    try {
      const all = await withDb(
        this.env,
        (p) => this.ctx.waitUntil(p),
        (db) => activeRoomIdsOf(db, userId),
      );
      return [...new Set([...known, ...all])];
    } catch (err) {
      console.warn(`rooms of ${userId} unavailable; closing streams in the known rooms only: ${String(err)}`);
      return [...new Set(known)];
    }
  }

  async inspect(): Promise<{
    online: boolean;
    devices: string[];
    rooms: string[];
    subscribed: string[];
    watchers: string[];
  }> {
    const devices = [...this.sockets.infos()].map((i) => i.deviceId);
    return {
      online: this.online,
      devices,
      rooms: this.store.cachedRoomIds(),
      subscribed: this.store.subscribedRoomIds(),
      watchers: this.store.watchers(),
    };
  }

  // ---------------------------------------------------------------- alarm

  override async alarm(): Promise<void> {
    await this.alarms.fire();
  }

  private async sweep(now: number): Promise<void> {
    const wasOnline = this.online;
    this.sockets.sweep(now);
    if (wasOnline && !this.online) await this.goOffline();
  }

  private sessionOf(userId: string) {
    return this.env.USER_SESSION.get(this.env.USER_SESSION.idFromName(userId));
  }
}
