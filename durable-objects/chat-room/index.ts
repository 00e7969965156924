// ChatRoom: one Durable Object per room, the data plane. It is the single writer of its room:
// it orders (seq), dedupes, stores, acks after the write is durable, and broadcasts to the
// streams it holds; members without a stream hear through their UserSession (activity), offline
// members through the push outbox (push-flusher.ts, to the push-relay). Edits and deletes take the
// same path with a rev instead of a seq (change-applier.ts). This class only hosts the capabilities
// wired in capabilities.ts: the RPC methods and the runtime's hooks each delegate in a few lines.
import { DurableObject } from "cloudflare:workers";
import {
  packFrames,
  PING_FRAME,
  PONG_FRAME,
  RoomClientFrame,
  type HistoryPage,
  type HistoryQuery,
  type RoomEvent,
  type RoomSnapshot,
  type RoomSummary,
  type SyncResult,
} from "../../protocol/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import type { ObjectEnv } from "../env.js";
import { realtimeConfig, type RealtimeConfig } from "../shared/config.js";
import { errorFrame, parseClientFrame } from "../shared/frames.js";
import { claimsOf, jsonError } from "../shared/upgrade.js";
import { CloseCode, trySend, type SocketInfo } from "../shared/sockets.js";
import { TokenBuckets } from "../shared/token-bucket.js";
import { mayMentionAll, readAccess, sendAccess, type AccessFacts, type Denied } from "./access.js";
import { roomCapabilities, type RoomParts } from "./capabilities.js";
import { roomHistory } from "./history.js";
import type { ChangeFrame } from "./message-changes.js";
import { normaliseSend } from "./inputs.js";
import { effectiveReadSeq } from "./members.js";
import { replayInto } from "./replay.js";
import type { SendFrame } from "./send-batcher.js";
import type { RoomMeta } from "./store.js";

const SESSION_PARALLELISM = 32;
/** how long a send, a stream or a history read waits for a room that is learning its sequence (recovery.ts) */
const RECOVERY_WAIT_MS = 3000;
const RECOVERING = "this room is restoring its history; try again shortly";
type HistoryAnswer = { page: HistoryPage } | { status: 403 | 404 | 503; message: string };

export class ChatRoom extends DurableObject<ObjectEnv> {
  private readonly cfg: RealtimeConfig;
  private readonly room: RoomParts;
  private readonly sendLimits: TokenBuckets;

  constructor(ctx: DurableObjectState, env: ObjectEnv) {
    super(ctx, env);
    this.cfg = realtimeConfig(env as unknown as Record<string, unknown>);
    this.room = roomCapabilities(ctx, env, this.cfg);
    this.sendLimits = new TokenBuckets({ perSecond: this.cfg.sendPerSecond, burst: this.cfg.sendBurst });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /**
   * The room's own id: from its storage, else the name its stub was made with (the runtime
   * leaves `ctx.id.name` undefined when an alarm wakes a cold object, so storage comes first).
   */
  private get roomId(): string | null {
    return this.room.store.meta()?.room_id ?? this.ctx.id.name ?? null;
  }

  private facts(meta: RoomMeta | null, userId: string): AccessFacts {
    return { meta, member: this.room.store.member(userId), blocks: this.room.store.blocks() };
  }

  private async ready(): Promise<RoomMeta | null> {
    const id = this.roomId;
    return id ? this.room.membership.ready(id) : null;
  }

  private async recovered(): Promise<boolean> {
    return this.room.recovery.within(RECOVERY_WAIT_MS);
  }

  // ---------------------------------------------------------------- RPC for the API and sessions

  /** The rooms API pushes the room's membership after every change; an older version is ignored. */
  async sync(snapshot: RoomSnapshot): Promise<SyncResult> {
    return this.room.membership.sync(snapshot);
  }

  /** Told of membership version `version` by someone who knows it committed (a durable retry): reload if behind. */
  async catchUp(version: number | null): Promise<SyncResult> {
    const id = this.roomId;
    if (!id) return { applied: false, version: 0 };
    return this.room.membership.catchUp(id, version);
  }

  /** A member's session came online: it hears activity from now on. */
  async subscribe(userId: string): Promise<RoomSummary | null> {
    const summary = await this.summary(userId);
    if (summary) this.room.store.setSubscribed(userId, true);
    return summary;
  }

  async unsubscribe(userId: string): Promise<void> {
    if (!this.room.store.meta() || !this.room.store.setSubscribed(userId, false)) return;
    this.room.store.setMeta({ last_activity: Date.now() });
    await this.room.alarms.reschedule();
  }

  async summary(userId: string): Promise<RoomSummary | null> {
    await this.ready();
    await this.recovered();
    const meta = this.room.store.meta();
    const member = meta?.active ? this.room.store.member(userId) : null;
    if (!meta || !member) return null;
    const last =
      meta.last_seq > member.joined_seq ? this.room.store.messages.message(meta.room_id, meta.last_seq) : null;
    return { room_id: meta.room_id, last_seq: meta.last_seq, read_seq: effectiveReadSeq(member), last_message: last };
  }

  /**
   * POST /v1/connect/ticket with a room: the room's own membership copy answers (null: may open),
   * so the connect path needs no PostgreSQL (a room without state loads its snapshot once).
   */
  async streamAccess(userId: string): Promise<Denied | null> {
    const meta = await this.ready();
    const access = readAccess(this.facts(meta, userId), userId);
    return access.ok ? null : access;
  }

  /** GET /v1/rooms/:id/messages: members only, from their joined_seq on. */
  async history(userId: string, q: HistoryQuery): Promise<HistoryAnswer> {
    if ((await this.ready()) && !(await this.recovered())) return { status: 503, message: RECOVERING };
    const meta = this.room.store.meta();
    const access = readAccess(this.facts(meta, userId), userId);
    if (!access.ok) return { status: access.status, message: access.message };
    return roomHistory(this.room.store.messages, this.room.sink, meta!, access.member, q);
  }

  /** Logout or suspension: the user's streams here close (one device's, or all). */
  async closeStreams(userId: string, deviceId: string | null, code: number, reason: string): Promise<number> {
    const mine = (i: SocketInfo) => i.userId === userId && (deviceId === null || i.deviceId === deviceId);
    return this.room.sockets.closeWhere(mine, code, reason);
  }

  /**
   * A membership change the API committed and this room applied: the sessions of `userIds` hear
   * `event` (an online one subscribes to a room it joined). Answers at once; the calls run from
   * the room's alarm, off the API request (announce.ts says why).
   */
  async announce(userIds: string[], event: RoomEvent): Promise<void> {
    if (this.room.store.meta()) this.room.announcements.add(userIds, event);
  }

  /**
   * The room's name, notice or pin changed: the sessions of online members hear it. A new `name`
   * is kept for push notifications (a lost call leaves the old one until the next snapshot).
   */
  async notifyUpdated(name?: string): Promise<void> {
    const meta = this.room.store.meta();
    if (!meta) return;
    if (name !== undefined && meta.type === "group") this.room.store.setName(name);
    const online = this.room.store.members().filter((m) => m.subscribed);
    await mapLimit(online, SESSION_PARALLELISM, (m) => this.session(m.user_id).roomEvent(meta.room_id, "updated"));
  }

  /** For tests and operators: what the room holds right now. */
  async inspect() {
    const { store } = this.room;
    const members = store.members();
    return {
      meta: store.meta(),
      members: members.length,
      subscribed: members.filter((m) => m.subscribed).map((m) => m.user_id),
      sockets: this.room.sockets.size,
      outbox: store.outbox.counts(),
      oldest_seq: store.messages.oldestSeq(),
      recovering: this.room.recovering(),
      announced: this.room.announcements.sent,
      sink: this.room.sink?.health() ?? null,
      relay: this.room.relay?.health() ?? null,
      alarm: await this.ctx.storage.getAlarm(),
    };
  }

  // ---------------------------------------------------------------- streams

  override async fetch(request: Request): Promise<Response> {
    const claims = claimsOf(request);
    if (!claims?.room_id) return new Response("expected a WebSocket upgrade", { status: 400 });
    if ((await this.room.membership.ready(claims.room_id)) && !(await this.recovered()))
      return jsonError(503, "unavailable", RECOVERING);
    const meta = this.room.store.meta();
    const access = readAccess(this.facts(meta, claims.user_id), claims.user_id);
    if (!access.ok) return jsonError(access.status, access.code, access.message);
    const { store, sockets } = this.room;
    // the Worker validated the query (StreamQuery)
    const query = new URL(request.url).searchParams;
    const batch = query.get("batch") === "1";
    const opened = sockets.acceptTicketed(claims, (id, exp) => store.useTicket(id, exp), Date.now(), { batch });
    if (!opened) return jsonError(401, "unauthorized", "this ticket was already used; get a new one");
    if (opened.refused) return new Response(null, { status: 101, webSocket: opened.client });
    const afterRev = query.get("after_rev");
    const resume = {
      afterSeq: Number(query.get("after_seq") ?? 0),
      ...(afterRev !== null ? { afterRev: Number(afterRev) } : {}),
    };
    // a stream that reads batches gets its replay in a few messages instead of one per frame
    const replayed: string[] = [];
    replayInto(
      batch ? { send: (data) => void replayed.push(data as string) } : opened.server,
      store.messages,
      meta!,
      access.member,
      resume,
      store.rev(),
      this.room.replayBudget,
      Date.now(),
    );
    for (const data of packFrames(replayed)) trySend(opened.server, data);
    this.room.offsets.caughtUp(claims.user_id);
    store.setMeta({ last_activity: Date.now() });
    await this.room.alarms.reschedule();
    return new Response(null, { status: 101, webSocket: opened.client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const { sockets, store } = this.room;
    const info = sockets.admit(ws, Date.now());
    if (!info) return;
    const parsed = parseClientFrame(raw, RoomClientFrame);
    if (!parsed.ok) return sockets.refuse(ws, parsed.error);
    const frame = parsed.frame;
    const meta = store.meta();
    if (!meta?.active) return sockets.close(ws, CloseCode.roomGone, "the room no longer exists");
    if (frame.type === "ping") return void sockets.send(ws, PONG_FRAME);
    if (frame.type === "auth") return void (await sockets.reauth(ws, info, frame.access_token, frame.id));
    const ref = frame.type === "send" ? frame.client_message_id : "op_id" in frame ? frame.op_id : frame.id;
    if (frame.room_id.toLowerCase() !== meta.room_id) {
      return sockets.refuse(ws, errorFrame("invalid", "room_id is not the room of this stream", ref));
    }
    const facts = this.facts(meta, info.userId);
    if (!facts.member) return sockets.close(ws, CloseCode.removed, "you are no longer a member of this room");
    if (frame.type === "send") return this.onSend(ws, info, facts, frame);
    if (frame.type === "edit" || frame.type === "delete") return this.onChange(ws, info, frame);
    if (frame.type === "read") return this.room.offsets.read(info.userId, info.deviceId, frame.seq);
    this.room.coalescer.typingFrom(info.userId, ws, Date.now());
  }

  private async onSend(ws: WebSocket, info: SocketInfo, facts: AccessFacts, frame: SendFrame): Promise<void> {
    const { sockets } = this.room;
    const ref = frame.client_message_id;
    if (!(await this.recovered()))
      return sockets.refuse(ws, errorFrame("unavailable", RECOVERING, ref), { counts: false });
    const meta = this.room.store.meta() ?? facts.meta!;
    const access = sendAccess(facts, info.userId);
    if (!access.ok) return sockets.refuse(ws, errorFrame("forbidden", access.message, ref), { counts: false });
    if (frame.mention_all && !mayMentionAll(access.member)) {
      const error = errorFrame("forbidden", "your role may not mention everyone (mention_all)", ref);
      return sockets.refuse(ws, error, { counts: false });
    }
    if (frame.reply_to_seq !== undefined && frame.reply_to_seq > meta.last_seq) {
      const message = `reply_to_seq ${frame.reply_to_seq} is after the room's last message`;
      return sockets.refuse(ws, errorFrame("invalid", message, ref));
    }
    const wait = this.sendLimits.take(info.userId);
    if (wait > 0) {
      return sockets.refuse(ws, errorFrame("rate_limited", "sending too fast; slow down", ref, wait), {
        counts: false,
      });
    }
    await this.room.sends.enqueue({ ws, sender_id: info.userId, frame: normaliseSend(frame) });
  }

  /** An edit or delete: by a member who may send here, within the same rate as sends. */
  private async onChange(ws: WebSocket, info: SocketInfo, frame: ChangeFrame): Promise<void> {
    const { sockets, store } = this.room;
    const ref = frame.op_id;
    if (!(await this.recovered()))
      return sockets.refuse(ws, errorFrame("unavailable", RECOVERING, ref), { counts: false });
    // read after the wait: the membership may have changed meanwhile
    const access = sendAccess(this.facts(store.meta(), info.userId), info.userId);
    if (!access.ok) {
      const error = errorFrame("forbidden", `you may not change messages here: ${access.message}`, ref);
      return sockets.refuse(ws, error, { counts: false });
    }
    const wait = this.sendLimits.take(info.userId);
    if (wait > 0) {
      return sockets.refuse(ws, errorFrame("rate_limited", "changing messages too fast; slow down", ref, wait), {
        counts: false,
      });
    }
    this.room.changes.apply(ws, access.member, frame);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.room.sockets.closed(ws, code, reason);
    if (!this.room.store.meta()) return;
    this.room.store.setMeta({ last_activity: Date.now() });
    await this.room.alarms.reschedule();
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.room.sockets.closed(ws, 1011, "socket error");
  }

  // ---------------------------------------------------------------- the alarm: every timed job

  override async alarm(): Promise<void> {
    if (!this.room.store.meta()) return this.room.alarms.clear();
    await this.room.alarms.fire();
  }

  private session(userId: string) {
    return this.env.USER_SESSION.get(this.env.USER_SESSION.idFromName(userId));
  }
}
