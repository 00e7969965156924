// ChatRoom: one Durable Object per room, the data plane. It is the single writer of its room:
// it orders (seq), dedupes, stores, acks after the write is durable, and broadcasts to the
// streams it holds; members without a stream hear through their UserSession (activity), offline
// members through the push outbox. The rules live in small modules beside this file; this class
// wires them to the runtime.
import { DurableObject } from "cloudflare:workers";
import { openDb } from "../../db/client.js";
import { copyReadOffsets } from "../../db/read-offsets.js";
import { loadRoomSnapshot, markRoomCleaned } from "../../db/room-snapshot.js";
import {
  MAX_REPLAY,
  PING_FRAME,
  PONG_FRAME,
  RoomClientFrame,
  SOCKET_CLAIMS_HEADER,
  type ActivityEvent,
  type HistoryPage,
  type HistoryQuery,
  type Message,
  type RoomClientFrame as ClientFrame,
  type RoomSnapshot,
  type RoomSummary,
  type ServerFrame,
  type SocketClaims,
  type SyncResult,
} from "../../protocol/index.js";
import { verifyAccessToken } from "../../workers/auth/access-tokens.js";
import type { Env } from "../../workers/env.js";
import { AlarmSlot, earliest } from "../shared/alarm.js";
import { realtimeConfig, type RealtimeConfig } from "../shared/config.js";
import { errorFrame, parseClientFrame } from "../shared/frames.js";
import { mapLimit } from "../shared/parallel.js";
import { CloseCode, HeldSockets, socketInfo, sweepSockets, trySend, type SocketInfo } from "../shared/sockets.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { TokenBuckets } from "../shared/token-bucket.js";
import { mentions, planFanout } from "./fanout.js";
import { historyPage } from "./history.js";
import { DEFAULT_OUTBOX, backoffMs, buildBatch, type OutboxSettings } from "./outbox.js";
import { SinkClient } from "./sink-client.js";
import { blockedFrom, planMembership } from "./members.js";
import { RoomStore, type PendingSend, type RoomMeta } from "./store.js";

const MAINTENANCE_EVERY_MS = 6 * 3600_000;
const ACTIVITY_PARALLELISM = 32;
const MAX_TYPING_PER_FLUSH = 5;
/** batches one alarm may send before it yields (the rest follow on the next alarm, at once) */
const MAX_BATCHES_PER_FLUSH = 20;

type SendFrame = Extract<ClientFrame, { type: "send" }>;
interface Queued extends PendingSend {
  ws: WebSocket;
}
type Offsets = { read_seq?: number; delivered_seq?: number };

export class ChatRoom extends DurableObject<Env> {
  private readonly store: RoomStore;
  private readonly cfg: RealtimeConfig;
  private readonly ids = new TimeUuidGenerator();
  private readonly sendLimits: TokenBuckets;
  private readonly alarmSlot: AlarmSlot;
  private readonly held: HeldSockets;
  private readonly outbox: OutboxSettings;
  private readonly sink: SinkClient | null;
  private readonly typingAt = new Map<string, number>();
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;
  private loading: Promise<RoomMeta | null> | null = null;
  // coalesced work for rooms over the immediate fan-out size, flushed by the alarm
  private pendingActivity = new Map<string, boolean>(); // user -> mentioned
  private pendingDelivered = new Map<string, Map<string, number>>(); // sender -> member -> delivered_seq
  private pendingReads = new Map<string, number>();
  private pendingTyping = new Set<string>();
  private lastCoalescedFlush = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cfg = realtimeConfig(env as unknown as Record<string, unknown>);
    this.store = new RoomStore(ctx.storage.sql);
    this.sink = SinkClient.from(env);
    this.outbox = {
      ...DEFAULT_OUTBOX,
      maxItems: this.cfg.archiveBatchMaxItems,
      maxAgeMs: this.cfg.archiveFlushMs,
      backoffMaxMs: this.cfg.archiveRetryMaxMs,
    };
    this.sendLimits = new TokenBuckets({ perSecond: this.cfg.sendPerSecond, burst: this.cfg.sendBurst });
    this.alarmSlot = new AlarmSlot(ctx.storage);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.held = new HeldSockets(ctx, (info) => this.streamGone(info));
  }

  private get sockets(): Map<WebSocket, SocketInfo> {
    return this.held.all;
  }

  // ---------------------------------------------------------------- membership (from the API)

  /** The rooms API pushes the room's membership after every change; an older version is ignored. */
  async sync(snapshot: RoomSnapshot): Promise<SyncResult> {
    const meta = this.store.meta();
    if (meta && snapshot.version <= meta.version && meta.active === snapshot.active)
      return { applied: false, version: meta.version };
    this.apply(snapshot, meta);
    await this.scheduleAlarm();
    return { applied: true, version: snapshot.version };
  }

  private apply(snapshot: RoomSnapshot, meta: RoomMeta | null): void {
    const current = new Map(this.store.members().map((m) => [m.user_id, m]));
    const lastSeq = meta?.last_seq ?? 0;
    const plan = planMembership(current, snapshot, lastSeq, meta === null);
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const m of plan.upserts) this.store.upsertMember(m);
      for (const id of plan.removed) this.store.removeMember(id);
      this.store.setBlocks(snapshot.blocks);
      this.store.setMeta({
        room_id: snapshot.room_id,
        type: snapshot.type,
        version: snapshot.version,
        active: snapshot.active,
        last_seq: lastSeq,
      });
      if (!meta || plan.joined.length) this.store.setMeta({ last_activity: now });
    });
    // from the moment the API call returns, a removed or blocked member hears nothing more
    for (const [ws, info] of this.sockets) {
      if (!snapshot.active) this.close(ws, CloseCode.roomGone, "the room no longer exists");
      else if (plan.removed.includes(info.u))
        this.close(ws, CloseCode.removed, "you are no longer a member of this room");
      else if (blockedFrom(snapshot.blocks, snapshot.type, info.u).read)
        this.close(ws, CloseCode.removed, "you can no longer read this room");
    }
  }

  /** The room's state, from storage or (first use, or storage lost) from PostgreSQL. */
  private async ready(roomId: string): Promise<RoomMeta | null> {
    const meta = this.store.meta();
    if (meta) return meta;
    this.loading ??= (async () => {
      const handle = openDb(this.env);
      try {
        const snapshot = await loadRoomSnapshot(handle.db, roomId);
        // a room that is gone (or was cleaned up) gets no storage back
        if (!snapshot?.active) return null;
        if (!this.store.meta()) this.apply(snapshot, null);
        await this.scheduleAlarm();
        return this.store.meta();
      } finally {
        this.loading = null;
        this.ctx.waitUntil(handle.close().catch(() => {}));
      }
    })();
    return this.loading;
  }

  // ---------------------------------------------------------------- RPC for sessions and the API

  /** A member's session came online: it hears activity from now on. */
  async subscribe(roomId: string, userId: string): Promise<RoomSummary | null> {
    const meta = await this.ready(roomId);
    if (!meta?.active || !this.store.member(userId)) return null;
    this.store.setSubscribed(userId, true);
    return this.summaryOf(meta, userId);
  }

  async unsubscribe(roomId: string, userId: string): Promise<void> {
    const meta = this.store.meta();
    if (meta?.room_id !== roomId) return;
    if (this.store.setSubscribed(userId, false)) {
      this.store.setMeta({ last_activity: Date.now() });
      await this.scheduleAlarm();
    }
  }

  async summary(roomId: string, userId: string): Promise<RoomSummary | null> {
    const meta = await this.ready(roomId);
    if (!meta?.active || !this.store.member(userId)) return null;
    return this.summaryOf(meta, userId);
  }

  private summaryOf(meta: RoomMeta, userId: string): RoomSummary | null {
    const member = this.store.member(userId);
    if (!member) return null;
    const last = meta.last_seq > member.joined_seq ? this.store.message(meta.room_id, meta.last_seq) : null;
    return {
      room_id: meta.room_id,
      last_seq: meta.last_seq,
      read_seq: Math.max(member.read_seq, member.joined_seq),
      last_message: last,
    };
  }

  /** GET /v1/rooms/:id/messages: members only, from their joined_seq on. */
  async history(
    roomId: string,
    userId: string,
    q: HistoryQuery,
  ): Promise<{ page: HistoryPage } | { status: 403 | 404 | 503; message: string }> {
    const meta = await this.ready(roomId);
    if (!meta?.active) return { status: 404, message: "no such room" };
    const member = this.store.member(userId);
    if (!member) return { status: 403, message: "you are not a member of this room" };
    if (blockedFrom(this.store.blocks(), meta.type, userId).read)
      return { status: 403, message: "you can no longer read this room" };
    try {
      const page = await historyPage(
        {
          floor: member.joined_seq,
          oldestHot: this.store.oldestSeq(),
          lastSeq: meta.last_seq,
          hot: (pq) => this.store.page(roomId, member.joined_seq, pq),
          archive: this.sink ? (pq) => this.sink!.page(roomId, pq) : null,
        },
        q,
      );
      return { page };
    } catch (err) {
      console.warn(`room ${roomId}: archive read failed: ${String(err)}`);
      return { status: 503, message: "older messages are unavailable right now; try again" };
    }
  }

  /** Logout or suspension: the user's streams here close (one device's, or all). */
  async closeStreams(
    roomId: string,
    userId: string,
    deviceId: string | null,
    code: number,
    reason: string,
  ): Promise<number> {
    if (this.store.meta()?.room_id !== roomId) return 0;
    let n = 0;
    for (const [ws, info] of [...this.sockets]) {
      if (info.u !== userId || (deviceId !== null && info.d !== deviceId)) continue;
      this.close(ws, code, reason);
      n++;
    }
    return n;
  }

  /** The room's name, notice or pin changed: the sessions of online members hear it. */
  async notifyUpdated(roomId: string): Promise<void> {
    const meta = this.store.meta();
    if (meta?.room_id !== roomId) return;
    const online = this.store.members().filter((m) => m.subscribed);
    await mapLimit(online, ACTIVITY_PARALLELISM, (m) =>
      this.session(m.user_id).roomEvent(m.user_id, roomId, "updated"),
    );
  }

  /** For tests and operators: what the room holds right now. */
  async inspect(): Promise<{
    meta: RoomMeta | null;
    members: number;
    subscribed: string[];
    sockets: number;
    outbox: Record<string, number>;
    oldest_seq: number;
    alarm: number | null;
  }> {
    const members = this.store.members();
    return {
      meta: this.store.meta(),
      members: members.length,
      subscribed: members.filter((m) => m.subscribed).map((m) => m.user_id),
      sockets: this.ctx.getWebSockets().length,
      outbox: this.store.outboxCounts(),
      oldest_seq: this.store.oldestSeq(),
      alarm: await this.ctx.storage.getAlarm(),
    };
  }

  // ---------------------------------------------------------------- streams

  override async fetch(request: Request): Promise<Response> {
    const claims = JSON.parse(request.headers.get(SOCKET_CLAIMS_HEADER) ?? "null") as SocketClaims | null;
    if (!claims?.room_id || request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("expected a WebSocket upgrade", { status: 400 });
    const meta = await this.ready(claims.room_id);
    if (!meta?.active) return jsonError(404, "not_found", "no such room");
    const member = this.store.member(claims.user_id);
    if (!member) return jsonError(403, "forbidden", "you are not a member of this room");
    if (blockedFrom(this.store.blocks(), meta.type, claims.user_id).read)
      return jsonError(403, "forbidden", "you can no longer read this room");
    if (!this.store.useTicket(claims.ticket_id, claims.ticket_expires_at))
      return jsonError(401, "unauthorized", "this ticket was already used; get a new one");

    const afterSeq = Number(new URL(request.url).searchParams.get("after_seq") ?? 0);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const now = Date.now();
    const info: SocketInfo = { u: claims.user_id, d: claims.device_id, t: claims.token_expires_at, o: now, s: now };
    this.held.accept(server, info, [`u:${claims.user_id}`]);

    // Replay and going live happen in this one synchronous turn: a send is committed and
    // broadcast in a turn of its own, so it lands either in this replay or on the live socket.
    const from = Math.max(Number.isFinite(afterSeq) ? afterSeq : 0, member.joined_seq);
    const { messages, hasMore } = this.store.replay(meta.room_id, from, MAX_REPLAY);
    for (const m of messages) server.send(JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
    server.send(
      JSON.stringify({
        type: "synced",
        room_id: meta.room_id,
        last_seq: meta.last_seq,
        has_more: hasMore,
      } satisfies ServerFrame),
    );
    this.store.markDelivered([claims.user_id], meta.last_seq);
    this.store.setMeta({ last_activity: now });
    await this.scheduleAlarm();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const info = this.held.touch(ws, Date.now());
    if (!info) return this.close(ws, CloseCode.policy, "unknown socket");
    const parsed = parseClientFrame(raw, RoomClientFrame);
    if (!parsed.ok) return this.refuse(ws, parsed.error);
    const frame = parsed.frame;
    const meta = this.store.meta();
    if (!meta?.active) return this.close(ws, CloseCode.roomGone, "the room no longer exists");
    if (frame.type === "ping") return void trySend(ws, PONG_FRAME);
    if (frame.type === "auth") return this.reauth(ws, info, frame.access_token, frame.id);
    const ref = frame.type === "send" ? frame.client_message_id : frame.id;
    if (frame.room_id.toLowerCase() !== meta.room_id)
      return this.refuse(ws, errorFrame("invalid", "room_id is not the room of this stream", ref));
    const member = this.store.member(info.u);
    if (!member) return this.close(ws, CloseCode.removed, "you are no longer a member of this room");

    switch (frame.type) {
      case "send":
        return this.onSend(ws, info, meta, frame, member.can_send);
      case "read":
        return this.onRead(info, meta, frame.seq);
      case "typing":
        return this.onTyping(ws, info, meta);
    }
  }

  private async onSend(
    ws: WebSocket,
    info: SocketInfo,
    meta: RoomMeta,
    frame: SendFrame,
    canSend: boolean,
  ): Promise<void> {
    const ref = frame.client_message_id;
    if (!canSend) return this.refuse(ws, errorFrame("forbidden", "your role may not send in this room", ref), false);
    if (blockedFrom(this.store.blocks(), meta.type, info.u).send)
      return this.refuse(ws, errorFrame("forbidden", "this direct room is blocked", ref), false);
    if (frame.reply_to_seq !== undefined && frame.reply_to_seq > meta.last_seq) {
      return this.refuse(
        ws,
        errorFrame("invalid", `reply_to_seq ${frame.reply_to_seq} is after the room's last message`, ref),
      );
    }
    const wait = this.sendLimits.take(info.u);
    if (wait > 0) return this.refuse(ws, errorFrame("rate_limited", "sending too fast; slow down", ref, wait), false);
    this.queue.push({ ws, sender_id: info.u, frame });
    // Sends that arrive in the same turn of the event loop are committed in one transaction.
    this.flushing ??= new Promise<void>((resolve, reject) =>
      setTimeout(() => {
        const batch = this.queue;
        this.queue = [];
        this.flushing = null;
        try {
          this.commit(batch);
          resolve();
        } catch (err) {
          reject(err);
        }
      }, 0),
    );
    try {
      await this.flushing;
    } catch (err) {
      console.error("send commit failed", err);
      this.refuse(ws, errorFrame("unavailable", "the message was not stored; send it again", ref), false);
    }
  }

  private commit(batch: Queued[]): void {
    if (batch.length === 0) return;
    const meta = this.store.meta();
    if (!meta) throw new Error("room has no state");
    const members = this.store.members();
    const memberIds = new Set(members.map((m) => m.user_id));
    // the membership may have changed while the batch waited for its turn
    const admitted = batch.filter((q) => {
      if (memberIds.has(q.sender_id)) return true;
      this.refuse(
        q.ws,
        errorFrame("forbidden", "you are no longer a member of this room", q.frame.client_message_id),
        false,
      );
      return false;
    });
    const streamDevices = this.streamDevices();
    const now = Date.now();
    // Members holding a stream have everything by construction: their delivered_seq is written
    // when their last stream closes, not once per message.
    const { results, stored, plan, lastSeq } = this.ctx.storage.transactionSync(() => {
      const { results, lastSeq } = this.store.commitSends(meta.room_id, admitted, now, this.ids, meta.last_seq);
      const stored = results.flatMap((r) => (r.message ? [r.message] : []));
      const plan = planFanout(members, streamDevices, stored);
      for (const p of plan.push) this.store.addOutbox("push", { room_id: meta.room_id, ...p }, now, p.seq);
      return { results, stored, plan, lastSeq };
    });

    // The runtime's output gate holds these frames until the transaction is durable: no ack,
    // and no message, leaves before the write does.
    const frames = stored.map((m) => JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
    if (frames.length) for (const ws of this.sockets.keys()) for (const f of frames) trySend(ws, f);
    results.forEach((r, i) => {
      const ack: ServerFrame = {
        type: "ack",
        room_id: meta.room_id,
        client_message_id: r.client_message_id,
        seq: r.seq,
        message_id: r.message_id,
        created_at: r.created_at,
        ...(r.duplicate ? { duplicate: true } : {}),
      };
      trySend(admitted[i]!.ws, JSON.stringify(ack));
    });
    if (!stored.length) return;
    // the first message makes the room's upkeep (retention) due: make sure the alarm knows
    if (meta.last_seq === 0) this.ctx.waitUntil(this.scheduleAlarm());
    this.noteOutbox(now);

    const immediate = members.length <= this.cfg.immediateFanoutMaxMembers;
    for (const sender of new Set(stored.map((m) => m.sender_id)))
      this.reportDelivered(meta.room_id, sender, plan.delivered, lastSeq);
    const last = stored[stored.length - 1]!;
    if (immediate) {
      const readOf = new Map(members.map((m) => [m.user_id, Math.max(m.read_seq, m.joined_seq)]));
      this.ctx.waitUntil(
        this.sendActivity(
          meta,
          plan.activity.map((a) => ({ ...a, read_seq: readOf.get(a.user_id) ?? 0 })),
          last,
        ),
      );
    } else {
      for (const a of plan.activity)
        this.pendingActivity.set(a.user_id, (this.pendingActivity.get(a.user_id) ?? false) || a.mentioned);
      this.coalesce();
    }
  }

  /** One activity call per online member; a session that answers "no socket" is unsubscribed and pushed to. */
  private async sendActivity(
    meta: RoomMeta,
    targets: Array<{ user_id: string; stream_devices: string[]; mentioned: boolean; read_seq: number }>,
    last: Message,
  ): Promise<void> {
    if (targets.length === 0) return;
    const answers = await mapLimit(targets, ACTIVITY_PARALLELISM, (t) => {
      const event: ActivityEvent = {
        room_id: meta.room_id,
        last_seq: last.seq,
        read_seq: t.read_seq,
        message: last,
        mentioned: t.mentioned,
        stream_devices: t.stream_devices,
      };
      return this.session(t.user_id).activity(t.user_id, event);
    });
    const reached: string[] = [];
    const gone: string[] = [];
    answers.forEach((a, i) => {
      const user = targets[i]!.user_id;
      if (a instanceof Error) console.warn(`activity to ${user} failed: ${a.message}`);
      else if (a.online) reached.push(user);
      else gone.push(user);
    });
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.store.markDelivered(reached, last.seq);
      for (const u of gone) this.store.setSubscribed(u, false);
      const offline = gone.filter((u) => u !== last.sender_id);
      if (offline.length)
        this.store.addOutbox(
          "push",
          {
            room_id: meta.room_id,
            seq: last.seq,
            recipients: offline,
            mentioned: offline.filter((u) => mentions(last, u)),
          },
          now,
          last.seq,
        );
    });
    this.reportDelivered(meta.room_id, last.sender_id, reached, last.seq);
  }

  /** Delivered offsets go to the sender only: at once up to 100 members, coalesced above. */
  private reportDelivered(roomId: string, sender: string, users: readonly string[], seq: number): void {
    const others = users.filter((u) => u !== sender);
    if (others.length === 0) return;
    if (this.store.memberCount() <= this.cfg.immediateFanoutMaxMembers) {
      for (const u of others)
        this.sendToUser(sender, { type: "receipt", room_id: roomId, user_id: u, delivered_seq: seq });
      return;
    }
    const pending = this.pendingDelivered.get(sender) ?? new Map<string, number>();
    for (const u of others) pending.set(u, seq);
    this.pendingDelivered.set(sender, pending);
    this.coalesce();
  }

  private onRead(info: SocketInfo, meta: RoomMeta, seq: number): void {
    const now = Date.now();
    const moved = this.ctx.storage.transactionSync(() => {
      const to = this.store.markRead(info.u, seq, meta.last_seq);
      if (to !== null)
        this.store.addOutbox(
          "read",
          { room_id: meta.room_id, user_id: info.u, read_seq: to, updated_at: new Date(now).toISOString() },
          now,
        );
      return to;
    });
    if (moved === null) return;
    this.noteOutbox(now);
    if (this.store.memberCount() <= this.cfg.immediateFanoutMaxMembers) {
      this.broadcast({ type: "receipt", room_id: meta.room_id, user_id: info.u, read_seq: moved });
    } else {
      this.pendingReads.set(info.u, moved);
      this.coalesce();
    }
    // the reader's other devices (those without this stream too) catch up through the session
    this.ctx.waitUntil(
      this.session(info.u)
        .readSync(info.u, meta.room_id, moved, info.d)
        .catch((err: unknown) => console.warn("read_sync failed", err)),
    );
  }

  private onTyping(ws: WebSocket, info: SocketInfo, meta: RoomMeta): void {
    const now = Date.now();
    // typing is ephemeral: over the limit it is dropped, never answered with an error
    if (now - (this.typingAt.get(info.u) ?? 0) < this.cfg.typingIntervalMs) return;
    this.typingAt.set(info.u, now);
    if (this.typingAt.size > 5000) this.typingAt.clear();
    if (this.store.memberCount() <= this.cfg.immediateFanoutMaxMembers) {
      const frame = JSON.stringify({ type: "typing", room_id: meta.room_id, user_id: info.u } satisfies ServerFrame);
      for (const other of this.sockets.keys()) if (other !== ws) trySend(other, frame);
    } else {
      this.pendingTyping.add(info.u);
      this.coalesce();
    }
  }

  private async reauth(ws: WebSocket, info: SocketInfo, token: string, ref?: string): Promise<void> {
    const auth = await verifyAccessToken(this.env, token);
    if (!auth || auth.userId !== info.u)
      return this.refuse(ws, errorFrame("unauthorized", "that access token is not valid for this socket", ref));
    this.held.update(ws, { ...info, t: auth.expiresAt });
    await this.scheduleAlarm();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.held.closed(ws, code, reason);
    this.store.setMeta({ last_activity: Date.now() });
    await this.scheduleAlarm();
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.held.closed(ws, 1011, "socket error");
  }

  /** A stream is gone: if it was its member's last, record how far that member got. */
  private streamGone(info: SocketInfo): void {
    if ([...this.sockets.values()].some((i) => i.u === info.u)) return;
    const meta = this.store.meta();
    if (meta && this.store.member(info.u)) this.store.markDelivered([info.u], meta.last_seq);
  }

  // ---------------------------------------------------------------- the alarm: every timed job

  override async alarm(): Promise<void> {
    const now = Date.now();
    const meta = this.store.meta();
    if (!meta) return this.alarmSlot.reset(null);

    const socketsDue = sweepSockets(
      this.ctx,
      (ws) => this.sockets.get(ws) ?? socketInfo(ws),
      now,
      this.cfg.silentSocketMs,
      (ws, code, reason) => this.close(ws, code, reason),
    );

    if (now - this.lastCoalescedFlush >= this.cfg.coalesceMs) await this.flushCoalesced(meta, now);

    await this.flushOutbox();

    const maintenanceAt = Number(this.kv("maintenance_at") ?? 0);
    if (now >= maintenanceAt || now >= (this.retentionDue() ?? Infinity)) {
      this.ctx.storage.transactionSync(() => this.store.prune(now, this.cfg));
      this.setKv("maintenance_at", String(now + MAINTENANCE_EVERY_MS));
    }

    if (await this.cleanupIfEmpty(meta, now)) return;
    await this.alarmSlot.reset(earliest(socketsDue, this.nextDue(now, false)), now);
  }

  private async flushCoalesced(meta: RoomMeta, now: number): Promise<void> {
    this.lastCoalescedFlush = now;
    if (this.pendingReads.size) {
      const offsets = [...this.pendingReads].map(([user_id, read_seq]) => ({ user_id, read_seq }));
      this.pendingReads.clear();
      this.broadcast({ type: "receipts", room_id: meta.room_id, offsets });
    }
    for (const [sender, delivered] of this.pendingDelivered) {
      this.sendToUser(sender, {
        type: "receipts",
        room_id: meta.room_id,
        offsets: [...delivered].map(([user_id, delivered_seq]) => ({ user_id, delivered_seq })),
      });
    }
    this.pendingDelivered.clear();
    if (this.pendingTyping.size) {
      for (const user of [...this.pendingTyping].slice(0, MAX_TYPING_PER_FLUSH))
        this.broadcast({ type: "typing", room_id: meta.room_id, user_id: user }, user);
      this.pendingTyping.clear();
    }
    if (this.pendingActivity.size) {
      const last = this.store.message(meta.room_id, meta.last_seq);
      const users = [...this.pendingActivity];
      this.pendingActivity.clear();
      if (last) {
        const streams = this.streamDevices();
        const members = new Map(this.store.members().map((m) => [m.user_id, m]));
        const targets = users.flatMap(([user_id, mentioned]) => {
          const m = members.get(user_id);
          return m?.subscribed
            ? [
                {
                  user_id,
                  mentioned,
                  stream_devices: [...(streams.get(user_id) ?? [])],
                  read_seq: Math.max(m.read_seq, m.joined_seq),
                },
              ]
            : [];
        });
        this.ctx.waitUntil(this.sendActivity(meta, targets, last));
      }
    }
  }

  /** An empty room (never a message, nobody online, idle past the limit) is removed, in PostgreSQL first. */
  private async cleanupIfEmpty(meta: RoomMeta, now: number): Promise<boolean> {
    if (!this.isCleanupCandidate(meta) || now - meta.last_activity < this.cfg.emptyRoomTtlMs) return false;
    const handle = openDb(this.env);
    try {
      await markRoomCleaned(handle.db, meta.room_id);
    } catch (err) {
      console.warn(`cleanup of room ${meta.room_id} postponed: ${String(err)}`);
      await this.alarmSlot.reset(now + 60_000);
      return true;
    } finally {
      this.ctx.waitUntil(handle.close().catch(() => {}));
    }
    for (const ws of this.ctx.getWebSockets()) this.close(ws, CloseCode.roomGone, "the room was cleaned up");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.store.dropped();
    return true;
  }

  private isCleanupCandidate(meta: RoomMeta): boolean {
    return meta.active && meta.last_seq === 0 && this.sockets.size === 0 && this.store.subscribedCount() === 0;
  }

  private nextDue(now: number, withSockets = true): number | null {
    const meta = this.store.meta();
    if (!meta) return null;
    // outside the alarm, a socket is due no earlier than its silence deadline from now
    let sockets: number | null = null;
    if (withSockets && this.sockets.size) {
      sockets = now + this.cfg.silentSocketMs;
      for (const info of this.sockets.values()) sockets = Math.min(sockets, Math.max(info.t, now + 1000));
    }
    const coalesced =
      this.pendingActivity.size || this.pendingDelivered.size || this.pendingReads.size || this.pendingTyping.size
        ? Math.max(now, this.lastCoalescedFlush + this.cfg.coalesceMs)
        : null;
    const hasData = meta.last_seq > 0;
    // upkeep runs every few hours, and exactly when the oldest message passes retention, so a
    // room nobody touches still drops it on time
    const maintenance = hasData ? earliest(Number(this.kv("maintenance_at") ?? now), this.retentionDue()) : null;
    const cleanup = this.isCleanupCandidate(meta) ? meta.last_activity + this.cfg.emptyRoomTtlMs : null;
    // sweeps are never closer than a second apart, so a socket at its deadline costs one wake
    return earliest(sockets, coalesced, maintenance, cleanup, this.outboxDue(now));
  }

  // ---------------------------------------------------------------- the outbox, to the archive

  private sinkConfigured(): boolean {
    return this.sink !== null;
  }

  /** New items wait at most the outbox's age limit for their flush. */
  private noteOutbox(now: number): void {
    if (this.sinkConfigured()) this.ctx.waitUntil(this.alarmSlot.request(now + this.flushDelay()));
  }

  // Each room waits a little more or less than the window, so rooms that got busy together do
  // not all call the sink in the same instant.
  private readonly flushJitter = 0.75 + Math.random() * 0.5;
  private flushDelay(): number {
    return Math.round(this.outbox.maxAgeMs * this.flushJitter);
  }

  private outboxDue(now: number): number | null {
    if (!this.sinkConfigured()) return null;
    const state = this.store.archiveState(this.outbox.maxItems);
    if (state.count === 0 || state.oldest === null) return null;
    const ready = state.count >= this.outbox.maxItems ? now : state.oldest + this.flushDelay();
    return Math.max(ready, state.nextAt ?? 0);
  }

  /**
   * Sends the oldest messages and read offsets to the sink, in order, and settles them only when
   * it confirms. While the sink is down the outbox waits with exponential backoff; it is bounded
   * by the object's storage, never by memory.
   */
  private async flushOutbox(): Promise<void> {
    const meta = this.store.meta();
    if (!meta || !this.sinkConfigured()) return;
    let settled = false;
    for (let round = 0; round < MAX_BATCHES_PER_FLUSH; round++) {
      const state = this.store.archiveState(this.outbox.maxItems);
      if (state.count === 0 || (state.nextAt ?? 0) > Date.now()) break;
      const rows = this.store.archiveHead(this.outbox.maxItems);
      const { batch, ids } = buildBatch(
        rows,
        (seq) => this.store.message(meta.room_id, seq),
        `${meta.room_id}:${rows[0]!.id}`,
        this.outbox,
      );
      if (!batch) {
        this.store.settleOutbox(ids);
        continue;
      }
      const { status, detail } = await this.sink!.postBatch(batch);
      if (status === 200) {
        if (batch.read_offsets?.length) await this.copyOffsetsToPostgres(meta.room_id, batch.read_offsets);
        this.store.settleOutbox(ids);
        settled = true;
        continue;
      }
      if (status === 400 || status === 413) {
        // a retry cannot fix a batch the sink calls malformed: set it aside, loudly, and go on
        console.error(`room ${meta.room_id}: sink refused batch ${batch.batch_id} (${status}): ${detail}`);
        this.store.parkOutbox(ids);
        continue;
      }
      const wait = backoffMs(state.attempts + 1, this.outbox);
      console.warn(
        `room ${meta.room_id}: archive flush failed (${status || "no answer"}: ${detail}); retry in ${wait} ms`,
      );
      this.store.deferOutbox(ids, Date.now() + wait);
      break;
    }
    // what the archive now holds may leave the hot tail (down to its configured bounds)
    if (settled) this.ctx.storage.transactionSync(() => this.store.prune(Date.now(), this.cfg));
  }

  /** Best effort: PostgreSQL's copy only serves lists; the sink already holds the offsets. */
  private async copyOffsetsToPostgres(
    roomId: string,
    offsets: ReadonlyArray<{ user_id: string; read_seq: number }>,
  ): Promise<void> {
    const handle = openDb(this.env);
    try {
      await copyReadOffsets(handle.db, roomId, offsets);
    } catch (err) {
      console.warn(`room ${roomId}: read offsets not copied to PostgreSQL: ${String(err)}`);
    } finally {
      this.ctx.waitUntil(handle.close().catch(() => {}));
    }
  }

  private retentionDue(): number | null {
    const oldest = this.store.oldestMessageAt();
    return oldest === null ? null : oldest + this.cfg.retentionMs;
  }

  /**
   * Coalesced work (large rooms) waits for the next once-a-second flush. Called per message, so
   * it only asks for that one time instead of recomputing every job's due time.
   */
  private coalesce(): void {
    this.ctx.waitUntil(this.alarmSlot.request(Math.max(Date.now(), this.lastCoalescedFlush + this.cfg.coalesceMs)));
  }

  private async scheduleAlarm(): Promise<void> {
    await this.alarmSlot.request(this.nextDue(Date.now()));
  }

  // ---------------------------------------------------------------- helpers

  private session(userId: string) {
    return this.env.USER_SESSION.get(this.env.USER_SESSION.idFromName(userId));
  }

  private streamDevices(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const info of this.sockets.values()) {
      const list = out.get(info.u);
      if (list) list.push(info.d);
      else out.set(info.u, [info.d]);
    }
    return out;
  }

  private broadcast(frame: ServerFrame, exceptUser?: string): void {
    const data = JSON.stringify(frame);
    for (const [ws, info] of this.sockets) if (info.u !== exceptUser) trySend(ws, data);
  }

  private sendToUser(userId: string, frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) trySend(ws, data);
  }

  private refuse(ws: WebSocket, error: ServerFrame, malformed = true): void {
    this.held.refuse(ws, error, malformed);
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    this.held.close(ws, code, reason);
  }

  private kv(key: string): string | undefined {
    return this.store.kv(key);
  }

  private setKv(key: string, value: string): void {
    this.store.setKv(key, value);
  }
}

function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
