// One open room: its stream (a Connection), the messages it delivered in seq order, and its part
// of the outbox. On every (re)connect the stream resumes after the last seq and rev held; the
// replay sends the newest messages after that seq, so a `synced` with `has_more` (or any seq
// that jumps) leaves a range that is paged over HTTP before anything after it is delivered. The
// rev to resume after is RevCursor's call (rev-cursor.ts): not every rev seen is one held.
import {
  DeleteFrame,
  EditFrame,
  HISTORY_PAGE_MAX,
  HistoryQuery,
  SendFrame,
  StreamQuery,
  TicketBody,
  type Attachment,
  AuthFrame,
  type HistoryPage,
  type Message,
  ReadFrame,
  type ServerFrame,
  type TicketResponse,
  TypingFrame,
} from "../protocol/index.js";
import type { z } from "zod";
import type { Auth, SignedOutReason } from "./auth.js";
import { Backoff } from "./backoff.js";
import { closeAction } from "./close-policy.js";
import type { Connection, ConnectionHooks, ConnectionState, Verdict } from "./connection.js";
import { Emitter } from "./emitter.js";
import { ChatError, describeIssues } from "./errors.js";
import type { Http } from "./http.js";
import { randomId } from "./ids.js";
import {
  refusalAction,
  unavailableDelayMs,
  type OpAck,
  type Outbox,
  type OutboxFrame,
  type OutboxItem,
  type OutboxKind,
  type SendAck,
} from "./outbox.js";
import { RevCursor } from "./rev-cursor.js";
import { SeqTracker } from "./seq-tracker.js";

export type RoomState = "connecting" | "syncing" | "live" | "reconnecting" | "closed";
export type RoomCloseReason = "removed" | "gone" | "closed" | "signed_out";
export type Receipt = { room_id: string; user_id: string; read_seq?: number; delivered_seq?: number };
export type ErrorFrame = Extract<ServerFrame, { type: "error" }>;

export interface FailedEvent {
  item: OutboxItem;
  error: ChatError;
  /** queue it again (same id); resolves with its ack */
  retry(): Promise<SendAck | OpAck>;
  cancel(): Promise<void>;
}

export interface RoomEvents {
  /** a message, once per seq, in seq order */
  message: Message;
  /** a message was edited or deleted: its current version */
  update: { rev: number; message: Message };
  receipt: Receipt;
  typing: { room_id: string; user_id: string };
  /** an outbox item was acknowledged (one no promise awaits, a previous client's, is held until a listener is attached) */
  sent: { item: OutboxItem; ack: SendAck | OpAck };
  /** an outbox item was refused for good (held like `sent`); its promise, if any, rejects with the same error */
  failed: FailedEvent;
  /** the room's outbox changed: its items now */
  outbox: { items: OutboxItem[] };
  /** seqs from..to are missing: they are being paged over HTTP before anything after them is delivered */
  gap: { room_id: string; from: number; to: number; reason: "replay" | "jump" };
  /** the stream caught up: everything up to last_seq was delivered */
  synced: { last_seq: number };
  state: { state: RoomState };
  /** the room's stream stopped for good */
  closed: { reason: RoomCloseReason; message?: string };
  /** an error frame not tied to anything the outbox sent */
  error: ErrorFrame;
}

export interface SendInput {
  body: string;
  mentions?: string[];
  mention_all?: boolean;
  reply_to_seq?: number;
  attachments?: Attachment[];
}

/** What a room needs from the client that opened it. */
export interface RoomHost {
  http: Http;
  auth: Auth;
  outbox: Outbox;
  deviceId: string;
  userId(): string | null;
  wsUrl(pathAndQuery: string): string;
  connection(hooks: ConnectionHooks): Connection;
  signOut(reason: SignedOutReason): void;
  /** the room stopped for good: the client forgets it */
  forget(room: RoomClient): void;
  ackTimeoutMs: number;
  /** messages a room keeps in memory (messages()); older ones are dropped, history() fetches them again */
  maxHeldMessages: number;
  /** open the stream with batch=1 (protocol/batch.ts) */
  batchFrames: boolean;
}

interface Deferred<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

const READ_DELAY_MS = 200;
const TYPING_EVERY_MS = 2500;

function withoutType<F extends { type: string }>(frame: F): Omit<F, "type"> {
  const copy: Partial<F> = { ...frame };
  delete copy.type;
  return copy as Omit<F, "type">;
}

export class RoomClient {
  readonly id: string;
  state: RoomState = "connecting";
  /** sends, edits and deletes refused `rate_limited` and waited for */
  rateLimitWaits = 0;
  /** resolves once the stream first caught up, or its first attempt failed (it keeps trying); rejects when refused */
  readonly ready: Promise<void>;

  private readonly events = new Emitter<RoomEvents>();
  private readonly tracker = new SeqTracker<Message>();
  private readonly held = new Map<number, Message>();
  private readonly waiters = new Map<string, Deferred<SendAck | OpAck>>();
  private readonly unavailableCount = new Map<string, number>();
  private readonly conn: Connection;
  private readyDone = false;
  private settleReady!: (err?: unknown) => void;
  private readonly revs = new RevCursor();
  /** the highest rev of an update delivered for a message we do not hold */
  private updateRev = 0;
  private everLive = false;
  private live = false;
  /** bumps with every socket: a repair of an older socket stops */
  private socketGen = 0;
  /** the socket whose gaps are being paged (one repair per socket at a time) */
  private repairingGen: number | null = null;
  private ticketGeneration = 0;
  private inFlight: string | null = null;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private pauseTimer: ReturnType<typeof setTimeout> | null = null;
  private pausedUntil = 0;
  private readSeq = 0;
  private sentRead = 0;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingAt = 0;
  private stopped = false;
  private readonly offToken: () => void;

  constructor(
    id: string,
    private readonly host: RoomHost,
  ) {
    this.id = id;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err?: unknown) => {
        if (this.readyDone) return;
        this.readyDone = true;
        if (err) reject(err);
        else resolve();
      };
    });
    // an unobserved refusal of ready must not crash the process: openRoom() hands it on
    this.ready.catch(() => {});
    this.offToken = host.auth.events.on("token", ({ access_token }) => this.sendAuth(access_token));
    this.conn = host.connection(this.hooks());
    this.conn.start();
  }

  // ------------------------------------------------------------------ public surface

  on<K extends keyof RoomEvents>(type: K, fn: (event: RoomEvents[K]) => void): () => void {
    return this.events.on(type, fn);
  }

  off<K extends keyof RoomEvents>(type: K, fn: (event: RoomEvents[K]) => void): void {
    this.events.off(type, fn);
  }

  /** The messages held, oldest first: those delivered since the room opened and the history pages fetched. */
  messages(): Message[] {
    return [...this.held.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The room's outbox: pending and failed items, in queue order. */
  pending(): OutboxItem[] {
    return this.host.outbox.list(this.id);
  }

  /** the last seq delivered in order (0 before the first) */
  get lastSeq(): number {
    return this.tracker.last;
  }

  /** Queues a message; resolves with its ack once the room stored it (across reconnects, once). */
  send(input: SendInput): Promise<SendAck> {
    const id = randomId("m");
    const parsed = SendFrame.safeParse({ ...defined(input), type: "send", room_id: this.id, client_message_id: id });
    if (!parsed.success) return Promise.reject(new ChatError("invalid", describeIssues(parsed.error.issues)));
    return this.queue("send", parsed.data, id) as Promise<SendAck>;
  }

  /** Edits the body of one of your messages; resolves with the op_ack once applied. */
  edit(seq: number, body: string): Promise<OpAck> {
    const id = randomId("op");
    const parsed = EditFrame.safeParse({ type: "edit", id, room_id: this.id, seq, op_id: id, body });
    if (!parsed.success) return Promise.reject(new ChatError("invalid", describeIssues(parsed.error.issues)));
    return this.queue("edit", parsed.data, id) as Promise<OpAck>;
  }

  /** Deletes a message (yours, or anyone's if your role may); resolves with the op_ack once applied. */
  remove(seq: number): Promise<OpAck> {
    const id = randomId("op");
    const parsed = DeleteFrame.safeParse({ type: "delete", id, room_id: this.id, seq, op_id: id });
    if (!parsed.success) return Promise.reject(new ChatError("invalid", describeIssues(parsed.error.issues)));
    return this.queue("delete", parsed.data, id) as Promise<OpAck>;
  }

  /** A failed item goes back into the queue (at its end, same id); resolves with its ack. */
  async retry(id: string): Promise<SendAck | OpAck> {
    const item = this.host.outbox.get(id);
    if (!item || item.room_id !== this.id) throw new ChatError("not_found", "no such item in this room's outbox");
    const done = this.waitFor(id);
    if (item.status === "failed") {
      await this.host.outbox.requeue(id);
      this.outboxChanged();
      this.pump();
    }
    return done;
  }

  /** Drops a pending or failed item; one already on its way cannot be taken back. */
  async cancel(id: string): Promise<void> {
    const item = this.host.outbox.get(id);
    if (!item || item.room_id !== this.id) return;
    if (this.inFlight === id) throw new ChatError("conflict", "this item is on its way; wait for its ack");
    this.waiters.get(id)?.reject(new ChatError("cancelled", "cancelled"));
    this.waiters.delete(id);
    await this.host.outbox.remove(id);
    this.outboxChanged();
  }

  /** Everything up to `seq` was seen (sent shortly after, coalesced; only ever moves forward). */
  markRead(seq: number): void {
    if (!Number.isInteger(seq) || seq <= this.readSeq) return;
    this.readSeq = seq;
    this.readTimer ??= setTimeout(() => {
      this.readTimer = null;
      this.sendRead();
    }, READ_DELAY_MS);
  }

  /** The user is typing: relayed at most every 2.5 s from here (the room relays at most every 3 s). */
  typing(): boolean {
    const now = Date.now();
    if (!this.live || now - this.lastTypingAt < TYPING_EVERY_MS) return false;
    this.lastTypingAt = now;
    return this.conn.send(JSON.stringify({ type: "typing", room_id: this.id } satisfies z.infer<typeof TypingFrame>));
  }

  /**
   * A page of older messages (newest first): before `beforeSeq`, by default before the oldest held;
   * or with `afterSeq`, oldest first. What it brings is held too (messages() shows it).
   */
  async history(q: { beforeSeq?: number; afterSeq?: number; limit?: number } = {}): Promise<HistoryPage> {
    const before = q.afterSeq === undefined ? (q.beforeSeq ?? this.oldestHeld()) : undefined;
    const page = await this.page({ before_seq: before, after_seq: q.afterSeq, limit: q.limit });
    for (const m of page.messages) {
      const cur = this.held.get(m.seq);
      if (!cur || (m.rev ?? 0) > (cur.rev ?? 0)) this.held.set(m.seq, m);
    }
    return page;
  }

  /** Closes the stream; the room's outbox waits in storage for the next open. */
  close(): void {
    this.terminate("closed");
  }

  stats() {
    return {
      state: this.state,
      attempts: this.conn.attempts,
      opens: this.conn.opens,
      lastClose: this.conn.lastClose,
      rateLimitWaits: this.rateLimitWaits,
    };
  }

  /** The client checks its sockets (the page became visible, the network came back). */
  wake(): void {
    this.conn.checkAlive();
    this.conn.retryNow();
  }

  /**
   * Stops for good: pending outbox items stay in storage (a later open sends them) unless the room
   * is over for us (removed, gone), where they fail.
   */
  terminate(reason: RoomCloseReason, message?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.live = false;
    this.conn.stop();
    this.offToken();
    this.clearTimers();
    const error =
      reason === "removed"
        ? new ChatError("forbidden", message ?? "you are no longer a member of this room")
        : reason === "gone"
          ? new ChatError("not_found", message ?? "the room no longer exists")
          : new ChatError(reason === "signed_out" ? "signed_out" : "closed", message ?? `the room was ${reason}`);
    this.settleReady(error);
    if (reason === "removed" || reason === "gone") {
      for (const item of this.pending()) if (item.status === "pending") void this.failItem(item, error);
    }
    for (const w of this.waiters.values()) w.reject(error);
    this.waiters.clear();
    this.setState("closed");
    this.events.emit("closed", { reason, ...(message ? { message } : {}) });
    this.host.forget(this);
  }

  // ------------------------------------------------------------------ the stream

  private hooks(): ConnectionHooks {
    return {
      url: () => this.streamUrl(),
      opened: () => this.opened(),
      frame: (f) => this.onFrame(f),
      closed: (c) => this.onClosed(c.code, c.reason),
      failed: (err) => this.onFailed(err),
      state: (s) => this.onConnectionState(s),
    };
  }

  private async streamUrl(): Promise<string> {
    const t = await this.host.http.request<TicketResponse>("POST", "/v1/connect/ticket", {
      body: TicketBody.parse({ device_id: this.host.deviceId, room_id: this.id }),
      idempotent: true,
    });
    this.ticketGeneration = this.host.auth.generation;
    const afterRev = this.revs.afterRev;
    const q = StreamQuery.parse({
      ticket: t.ticket,
      ...(this.tracker.started ? { after_seq: this.tracker.last } : {}),
      ...(afterRev !== undefined ? { after_rev: afterRev } : {}),
      ...(this.host.batchFrames ? { batch: "1" as const } : {}),
    });
    const params = new URLSearchParams({ ticket: q.ticket });
    // batch=1: a replay or a busy room's commit comes as one message (the connection unpacks it)
    if (q.batch) params.set("batch", q.batch);
    if (q.after_seq !== undefined) params.set("after_seq", String(q.after_seq));
    if (q.after_rev !== undefined) params.set("after_rev", String(q.after_rev));
    return this.host.wsUrl(`/v1/rooms/${this.id}/stream?${params}`);
  }

  private opened(): void {
    this.socketGen++;
    this.revs.opened();
    this.live = false;
    this.sentRead = 0;
    // the token was refreshed while this socket was being set up: the socket knows only the old one
    if (this.host.auth.generation !== this.ticketGeneration) {
      const token = this.host.auth.currentToken();
      if (token) this.sendAuth(token);
    }
  }

  private onConnectionState(s: ConnectionState): void {
    if (s === "stopped") return this.setState("closed");
    if (s === "open") return this.setState("syncing");
    this.setState(this.everLive || this.conn.attempts > 1 ? "reconnecting" : "connecting");
  }

  private async onClosed(code: number, reason: string): Promise<Verdict> {
    this.socketGen++;
    this.live = false;
    this.dropInFlight();
    const action = closeAction(code, "room");
    switch (action.do) {
      case "refresh":
        try {
          await this.host.auth.refresh();
        } catch (err) {
          if (err instanceof ChatError && err.code === "signed_out") return { stop: true };
        }
        return { immediate: true };
      case "stop_room":
        this.terminate(action.reason, reason);
        return { stop: true };
      case "sign_out":
        this.host.signOut(action.reason);
        return { stop: true };
      case "reconnect":
        this.settleReady();
        return action.minDelayMs ? { minDelayMs: action.minDelayMs } : {};
    }
  }

  private onFailed(err: unknown): Verdict {
    if (err instanceof ChatError) {
      if (err.code === "signed_out" || !this.host.auth.signedIn) return { stop: true };
      if (err.status === 403) {
        this.terminate("removed", err.message);
        return { stop: true };
      }
      if (err.status === 404) {
        this.terminate("gone", err.message);
        return { stop: true };
      }
      this.settleReady();
      if (err.code === "rate_limited" && err.retryAfterMs) return { minDelayMs: err.retryAfterMs };
      return {};
    }
    this.settleReady();
    return {};
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "message":
        return this.onMessage(withoutType(f));
      case "synced":
        return void this.onSynced(f);
      case "ack":
        return this.onAck(withoutType(f));
      case "op_ack":
        return this.onOpAck(withoutType(f));
      case "update":
        return this.onUpdate(f.rev, f.message);
      case "receipt":
        return this.events.emit("receipt", withoutType(f));
      case "receipts":
        for (const o of f.offsets) this.events.emit("receipt", { room_id: f.room_id, ...o });
        return;
      case "typing":
        return this.events.emit("typing", { room_id: f.room_id, user_id: f.user_id });
      case "error":
        return this.onError(f);
      default:
        return;
    }
  }

  private onMessage(m: Message): void {
    if (m.room_id !== this.id) return;
    // our own message: stored, whatever became of its ack (a replay after a cut brings it too)
    const item = this.host.outbox.get(m.client_message_id);
    if (item?.kind === "send" && item.room_id === this.id && m.sender_id === this.host.userId()) {
      this.complete(item, {
        room_id: m.room_id,
        client_message_id: m.client_message_id,
        seq: m.seq,
        message_id: m.message_id,
        created_at: m.created_at,
      });
    }
    const ready = this.tracker.offer(m);
    for (const d of ready) this.deliver(d);
    if (ready.length === 0 && this.live && this.repairingGen !== this.socketGen) {
      const gap = this.tracker.gap();
      if (gap) {
        this.events.emit("gap", { room_id: this.id, ...gap, reason: "jump" });
        void this.repairGaps(this.socketGen);
      }
    }
  }

  private async onSynced(f: Extract<ServerFrame, { type: "synced" }>): Promise<void> {
    // a room new to us starts here: what came before is history (room.history()), not a gap
    if (!this.tracker.started) this.tracker.start(f.last_seq);
    const reload = this.revs.synced(f.last_rev, f.updates_has_more === true);
    const gen = this.socketGen;
    const target = Math.max(f.last_seq, this.tracker.maxAhead() ?? 0);
    if (this.tracker.last < target) {
      const gap = this.tracker.gap() ?? { from: this.tracker.last + 1, to: target };
      this.events.emit("gap", { room_id: this.id, ...gap, reason: "replay" });
      await this.repair(target, gen);
      if (gen === this.socketGen) await this.repairGaps(gen);
    }
    // the replay left changes out: caught up means holding the current version of what we hold
    if (reload !== null && gen === this.socketGen && !this.stopped && (await this.reloadHeld(gen)))
      this.revs.reloaded(reload);
    if (gen !== this.socketGen || this.stopped) return;
    this.live = true;
    this.everLive = true;
    this.setState("live");
    this.conn.markHealthy();
    this.settleReady();
    this.events.emit("synced", { last_seq: this.tracker.last });
    this.sendRead();
    this.pump();
  }

  /** Fills every gap before a held message (live seqs that jumped). */
  private async repairGaps(gen: number): Promise<void> {
    if (this.repairingGen === gen) return;
    for (let gap = this.tracker.gap(); gap && gen === this.socketGen && !this.stopped; gap = this.tracker.gap()) {
      const before = this.tracker.last;
      await this.repair(gap.to, gen);
      if (this.tracker.last === before) return;
    }
  }

  /** Pages messages after the last delivered one over HTTP until `target` is delivered. */
  private async repair(target: number, gen: number): Promise<void> {
    if (this.repairingGen === gen) return;
    this.repairingGen = gen;
    const retry = new Backoff({ baseMs: 500, maxMs: 10_000 });
    try {
      while (this.tracker.last < target && gen === this.socketGen && !this.stopped) {
        let page: HistoryPage;
        try {
          page = await this.page({ after_seq: this.tracker.last, limit: HISTORY_PAGE_MAX });
        } catch (err) {
          if (err instanceof ChatError && (err.status === 403 || err.status === 404)) {
            this.terminate(err.status === 403 ? "removed" : "gone", err.message);
            return;
          }
          if (err instanceof ChatError && err.code === "signed_out") return;
          await sleep(retry.next() + 100);
          continue;
        }
        const before = this.tracker.last;
        for (const m of page.messages) for (const d of this.tracker.offer(m)) this.deliver(d);
        if (this.tracker.last < target && (!page.has_more || this.tracker.last === before)) {
          // seqs this member can never see (before they joined): move past them
          const gap = this.tracker.gap();
          for (const d of this.tracker.skipTo(gap ? gap.to : target)) this.deliver(d);
        }
      }
    } finally {
      if (this.repairingGen === gen) this.repairingGen = null;
    }
  }

  /**
   * Fetches the current version of every held message over HTTP (synced.updates_has_more: more of
   * them changed than the replay sent) and reports each that changed. Pages skip what is not held,
   * so the cost follows the held set (maxHeldMessages), not the room. False when it stopped first.
   */
  private async reloadHeld(gen: number): Promise<boolean> {
    const seqs = [...this.held.keys()].sort((a, b) => a - b);
    const retry = new Backoff({ baseMs: 500, maxMs: 10_000 });
    let i = 0;
    while (i < seqs.length) {
      if (gen !== this.socketGen || this.stopped) return false;
      let page: HistoryPage;
      try {
        page = await this.page({ after_seq: seqs[i]! - 1, limit: HISTORY_PAGE_MAX });
      } catch (err) {
        if (err instanceof ChatError && (err.status === 403 || err.status === 404)) {
          this.terminate(err.status === 403 ? "removed" : "gone", err.message);
          return false;
        }
        if (err instanceof ChatError && err.code === "signed_out") return false;
        await sleep(retry.next() + 100);
        continue;
      }
      for (const m of page.messages) this.reloaded(m);
      const end = page.messages.at(-1)?.seq;
      if (end === undefined || !page.has_more) break;
      while (i < seqs.length && seqs[i]! <= end) i++;
    }
    return true;
  }

  /** A held message's version from a reload: reported as an update when it is newer than the one held. */
  private reloaded(m: Message): void {
    const known = this.held.get(m.seq);
    if (!known || (m.rev ?? 0) <= (known.rev ?? 0)) return;
    this.held.set(m.seq, m);
    this.events.emit("update", { rev: m.rev ?? 0, message: m });
  }

  private deliver(m: Message): void {
    const known = this.held.get(m.seq);
    if (!known || (m.rev ?? 0) >= (known.rev ?? 0)) this.held.set(m.seq, m);
    if (!known) this.events.emit("message", m);
    if (this.held.size > this.host.maxHeldMessages * 1.1) this.trimHeld();
  }

  /** Keeps the newest messages in memory; older ones are a history() page away. */
  private trimHeld(): void {
    const seqs = [...this.held.keys()].sort((a, b) => a - b);
    for (const seq of seqs.slice(0, seqs.length - this.host.maxHeldMessages)) this.held.delete(seq);
  }

  private onUpdate(rev: number, message: Message): void {
    if (message.room_id !== this.id) return;
    this.revs.update(rev);
    const version = message.rev ?? rev;
    const known = this.held.get(message.seq) ?? this.tracker.held(message.seq);
    if (known) {
      if ((known.rev ?? 0) >= version) return;
      if (this.held.has(message.seq)) this.held.set(message.seq, message);
      else this.tracker.replaceHeld(message);
    } else {
      if (rev <= this.updateRev) return;
      this.updateRev = rev;
    }
    this.events.emit("update", { rev, message });
  }

  private onError(f: ErrorFrame): void {
    const item = f.ref ? this.host.outbox.get(f.ref) : undefined;
    if (item && item.room_id === this.id) return void this.refused(item, f);
    // the socket's own frame budget (no ref): the frame did nothing; resend after the wait
    if (f.code === "rate_limited") {
      this.rateLimitWaits++;
      return this.pause(f.retry_after_ms ?? 1000);
    }
    this.events.emit("error", f);
  }

  // ------------------------------------------------------------------ the outbox

  private async queue(kind: OutboxKind, frame: OutboxFrame, id: string): Promise<SendAck | OpAck> {
    if (this.stopped) throw new ChatError("closed", "this room is closed; open it again");
    const done = this.waitFor(id);
    await this.host.outbox.add(kind, frame, id);
    this.outboxChanged();
    this.pump();
    return done;
  }

  private waitFor(id: string): Promise<SendAck | OpAck> {
    return new Promise<SendAck | OpAck>((resolve, reject) => {
      const prior = this.waiters.get(id);
      this.waiters.set(id, {
        resolve: (v) => {
          prior?.resolve(v);
          resolve(v);
        },
        reject: (e) => {
          prior?.reject(e);
          reject(e);
        },
      });
    });
  }

  /** Sends the oldest pending item of the room, one at a time: FIFO even when one is refused. */
  private pump(): void {
    if (!this.live || this.inFlight || this.stopped) return;
    if (Date.now() < this.pausedUntil) {
      // timers and the wall clock may disagree by a millisecond: never stop without a timer to resume
      this.pauseTimer ??= setTimeout(
        () => {
          this.pauseTimer = null;
          this.pump();
        },
        Math.max(1, this.pausedUntil - Date.now()),
      );
      return;
    }
    const item = this.host.outbox.nextPending(this.id);
    if (!item) return;
    if (!this.conn.send(JSON.stringify(item.frame))) return;
    this.inFlight = item.id;
    // an ack that never comes (a frame lost on a socket that looks alive): send it again; the
    // server answers a repeat with the original ack
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.inFlight !== item.id) return;
      this.inFlight = null;
      this.pump();
    }, this.host.ackTimeoutMs);
  }

  private onAck(ack: SendAck): void {
    const item = this.host.outbox.get(ack.client_message_id);
    if (item?.kind === "send" && item.room_id === this.id) this.complete(item, ack);
  }

  private onOpAck(ack: OpAck): void {
    const item = this.host.outbox.get(ack.op_id);
    if (item && item.kind !== "send" && item.room_id === this.id) this.complete(item, ack);
  }

  private complete(item: OutboxItem, ack: SendAck | OpAck): void {
    if (this.inFlight === item.id) this.dropInFlight();
    this.unavailableCount.delete(item.id);
    void this.host.outbox.remove(item.id).catch((err: unknown) => console.error("chat client: outbox", err));
    const w = this.waiters.get(item.id);
    this.waiters.delete(item.id);
    w?.resolve(ack);
    // an item nobody awaits (a previous client's) is reported even to a listener attached later
    if (w) this.events.emit("sent", { item, ack });
    else this.events.report("sent", { item, ack });
    this.outboxChanged();
    this.pump();
  }

  private async refused(item: OutboxItem, f: ErrorFrame): Promise<void> {
    if (item.status !== "pending") return;
    if (this.inFlight === item.id) this.dropInFlight();
    switch (refusalAction(f.code)) {
      case "wait":
        this.rateLimitWaits++;
        return this.pause(f.retry_after_ms ?? 1000);
      case "retry": {
        const n = (this.unavailableCount.get(item.id) ?? 0) + 1;
        this.unavailableCount.set(item.id, n);
        return this.pause(unavailableDelayMs(n));
      }
      case "fail":
        await this.failItem(item, new ChatError(f.code, f.message));
        return this.pump();
    }
  }

  private async failItem(item: OutboxItem, error: ChatError): Promise<void> {
    await this.host.outbox.fail(item.id, { code: error.code, message: error.message });
    const w = this.waiters.get(item.id);
    this.waiters.delete(item.id);
    w?.reject(error);
    const event: FailedEvent = {
      item: { ...item },
      error,
      retry: () => this.retry(item.id),
      cancel: () => this.cancel(item.id),
    };
    if (w) this.events.emit("failed", event);
    else this.events.report("failed", event);
    this.outboxChanged();
  }

  private pause(ms: number): void {
    this.dropInFlight();
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(
      () => {
        this.pauseTimer = null;
        this.pausedUntil = 0;
        this.pump();
      },
      Math.max(0, this.pausedUntil - Date.now()),
    );
  }

  private dropInFlight(): void {
    this.inFlight = null;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  private outboxChanged(): void {
    this.events.emit("outbox", { items: this.pending() });
  }

  // ------------------------------------------------------------------ small frames and helpers

  private sendRead(): void {
    if (!this.live || this.readSeq <= this.sentRead) return;
    const frame: z.infer<typeof ReadFrame> = { type: "read", room_id: this.id, seq: this.readSeq };
    if (this.conn.send(JSON.stringify(frame))) this.sentRead = this.readSeq;
  }

  private sendAuth(token: string): void {
    this.conn.send(
      JSON.stringify({ type: "auth", id: randomId("auth"), access_token: token } satisfies z.infer<typeof AuthFrame>),
    );
  }

  private page(q: { before_seq?: number; after_seq?: number; limit?: number }): Promise<HistoryPage> {
    const query = HistoryQuery.parse(defined(q));
    return this.host.http.request<HistoryPage>("GET", `/v1/rooms/${this.id}/messages`, {
      query: { ...query },
      idempotent: true,
    });
  }

  private oldestHeld(): number | undefined {
    let min: number | undefined;
    for (const seq of this.held.keys()) if (min === undefined || seq < min) min = seq;
    return min;
  }

  private setState(state: RoomState): void {
    if (this.state === state || (this.state === "closed" && state !== "closed")) return;
    if (this.stopped && state !== "closed") return;
    this.state = state;
    this.events.emit("state", { state });
  }

  private clearTimers(): void {
    this.dropInFlight();
    for (const t of [this.pauseTimer, this.readTimer]) if (t) clearTimeout(t);
    this.pauseTimer = this.readTimer = null;
  }
}

/** The object without its undefined fields (strict protocol schemas refuse nothing for them, JSON drops them anyway). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
