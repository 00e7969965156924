// The open room: its timeline, receipts, who is typing, its members, and the actions on it. It
// holds the room's channel (the SDK's stream) for as long as the room is on screen.
import { batch, signal } from "@preact/signals";
import type { Message, Room, RoomMemberDetail } from "../../../protocol/index.js";
import { applyReceipt, type Offsets } from "../lib/receipts.js";
import {
  addMessages,
  addOlderPage,
  applyUpdate,
  emptyTimeline,
  newestSeq,
  oldestSeq,
  setPending,
  type Timeline,
} from "../lib/timeline.js";
import { mentionsIn } from "../lib/mentions.js";
import {
  describeError,
  type Backend,
  type Channel,
  type Queued,
  type QueuedChange,
  type Unsubscribe,
} from "./backend.js";

export const HISTORY_PAGE = 50;
/** how long "is typing" shows after the last typing frame (the server relays one per ~3 s) */
export const TYPING_SHOWN_MS = 4500;
/** typing frames this device sends at most this often */
const TYPING_EVERY_MS = 2500;

export interface RoomViewHost {
  meId: string;
  /** the room list follows what the open room shows */
  noteMessage(m: Message): void;
  noteRead(roomId: string, seq: number): void;
  learnNames(members: RoomMemberDetail[]): void;
}

export class RoomView {
  readonly timeline = signal<Timeline>(emptyTimeline());
  readonly offsets = signal<Offsets>(new Map());
  /** user id -> until when their typing shows (epoch ms) */
  readonly typing = signal<ReadonlyMap<string, number>>(new Map());
  /** edits and deletes not applied yet, by the seq they change */
  readonly changes = signal<ReadonlyMap<number, QueuedChange>>(new Map());
  readonly room = signal<Room | null>(null);
  readonly members = signal<RoomMemberDetail[]>([]);
  readonly ready = signal(false);
  readonly loadingOlder = signal(false);
  readonly error = signal<string | null>(null);
  /** why the room's stream stopped for good (removed, gone), or null while it runs */
  readonly stopped = signal<string | null>(null);

  private channel: Channel | null = null;
  private offs: Unsubscribe[] = [];
  private closed = false;
  private readSent = 0;
  private lastTypingSent = 0;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly roomId: string,
    private readonly backend: Backend,
    private readonly host: RoomViewHost,
  ) {}

  async open(): Promise<void> {
    try {
      const [channel, detail] = await Promise.all([this.backend.open(this.roomId), this.backend.room(this.roomId)]);
      if (this.closed) return channel.close();
      this.channel = channel;
      this.room.value = detail.room;
      this.members.value = detail.members;
      this.host.learnNames(detail.members);
      this.listen(channel);
      this.timeline.value = addMessages(this.timeline.value, channel.held());
      this.followOutbox(channel.queued());
      // a page before what the stream replayed: a stream that resumes from what this device saw
      // before replays only what is newer, and the view starts with a screenful either way
      if (this.timeline.value.messages.length < HISTORY_PAGE) {
        const before = oldestSeq(this.timeline.value);
        const page =
          before === 1
            ? { messages: [], has_more: false }
            : await channel.history({ ...(before !== undefined ? { beforeSeq: before } : {}), limit: HISTORY_PAGE });
        if (this.closed) return;
        this.timeline.value = addOlderPage(this.timeline.value, page.messages, page.has_more);
      }
      this.ready.value = true;
    } catch (err) {
      if (!this.closed) this.error.value = describeError(err);
    }
  }

  private listen(channel: Channel) {
    this.offs.push(
      channel.on("message", (m) => {
        batch(() => {
          this.timeline.value = addMessages(this.timeline.value, [m]);
          if (this.typing.value.has(m.sender_id)) {
            const next = new Map(this.typing.value);
            next.delete(m.sender_id);
            this.typing.value = next;
          }
        });
        this.host.noteMessage(m);
      }),
      channel.on("update", (m) => {
        this.timeline.value = applyUpdate(this.timeline.value, m);
        this.host.noteMessage(m);
      }),
      channel.on("receipt", (r) => {
        this.offsets.value = applyReceipt(this.offsets.value, r);
      }),
      channel.on("typing", ({ user_id }) => {
        if (user_id === this.host.meId) return;
        const next = new Map(this.typing.value);
        next.set(user_id, Date.now() + TYPING_SHOWN_MS);
        this.typing.value = next;
        this.scheduleTypingExpiry();
      }),
      channel.on("outbox", (q) => this.followOutbox(q)),
      channel.on("closed", ({ reason, message }) => {
        // closing it ourselves (leaving the view, signing out) is no news
        if (reason === "closed" || reason === "signed_out" || this.closed) return;
        this.stopped.value =
          message ??
          (reason === "removed" ? "You are no longer a member of this chat." : "This chat no longer exists.");
      }),
    );
  }

  private followOutbox(q: Queued) {
    batch(() => {
      this.timeline.value = setPending(this.timeline.value, q.sends);
      // the last queued change of a message is the one that counts
      this.changes.value = new Map(q.changes.map((c) => [c.seq, c]));
    });
  }

  /** Users typing right now (not me). */
  typingNow(now = Date.now()): string[] {
    return [...this.typing.value].filter(([, until]) => until > now).map(([id]) => id);
  }

  private scheduleTypingExpiry() {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    const next = Math.min(...this.typing.value.values());
    this.typingTimer = setTimeout(
      () => {
        const now = Date.now();
        this.typing.value = new Map([...this.typing.value].filter(([, until]) => until > now));
        if (this.typing.value.size) this.scheduleTypingExpiry();
      },
      Math.max(50, next - Date.now()),
    );
  }

  /** Sends what the composer holds: the outbox shows it pending at once, in order, until the room acknowledges it. */
  send(text: string): boolean {
    const body = text.trim();
    if (!body || !this.channel) return false;
    const { mentions, mention_all } = mentionsIn(body, this.members.value, this.host.meId);
    this.channel.send({ body, mentions, ...(mention_all ? { mention_all } : {}) }).catch((err) => {
      // a refusal of a queued send shows on its pending message (failed, with retry and cancel);
      // one that never got into the outbox (refused before it was queued) shows here
      const queued = this.timeline.value.pending.some((p) => p.body === body && p.state === "failed");
      if (!queued) this.error.value = `Not sent: ${describeError(err)}`;
    });
    return true;
  }

  /** A failed send, edit or delete goes again (the outbox shows it pending meanwhile). */
  retry(id: string) {
    this.channel?.retry(id).catch(() => {});
  }

  async cancel(id: string) {
    try {
      await this.channel?.cancel(id);
    } catch (err) {
      this.error.value = describeError(err);
    }
  }

  async edit(seq: number, body: string): Promise<void> {
    const text = body.trim();
    if (!text || !this.channel) return;
    try {
      await this.channel.edit(seq, text);
    } catch (err) {
      // a refusal of a queued edit shows on its message (with retry and discard); this is one never queued
      if (!this.changes.value.has(seq)) this.error.value = `The edit was not saved: ${describeError(err)}`;
    }
  }

  async remove(seq: number): Promise<void> {
    if (!this.channel) return;
    try {
      await this.channel.remove(seq);
    } catch (err) {
      if (!this.changes.value.has(seq)) this.error.value = `The message was not deleted: ${describeError(err)}`;
    }
  }

  /** Reads up to the newest message shown (called while the room is on screen). */
  markReadUpToNewest() {
    const seq = newestSeq(this.timeline.value);
    if (!this.channel || seq === undefined || seq <= this.readSent) return;
    this.readSent = seq;
    this.channel.markRead(seq);
    this.host.noteRead(this.roomId, seq);
  }

  /** The composer changed: tell the room, at most every few seconds. */
  typed() {
    const now = Date.now();
    if (!this.channel || now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    this.channel.typing();
  }

  /** Pages older messages (scrolling up): the hot tail, then the archive, as the server has them. */
  async loadOlder(): Promise<void> {
    const t = this.timeline.value;
    if (!this.channel || this.loadingOlder.value || !t.hasOlder) return;
    const before = oldestSeq(t);
    if (before === 1) {
      this.timeline.value = { ...t, hasOlder: false };
      return;
    }
    this.loadingOlder.value = true;
    try {
      const page = await this.channel.history({
        ...(before !== undefined ? { beforeSeq: before } : {}),
        limit: HISTORY_PAGE,
      });
      this.timeline.value = addOlderPage(this.timeline.value, page.messages, page.has_more);
    } catch (err) {
      this.error.value = `Older messages did not load: ${describeError(err)}`;
    } finally {
      this.loadingOlder.value = false;
    }
  }

  /** Members changed (someone added): the names and the ticks' audience follow. */
  async refreshMembers(): Promise<void> {
    try {
      const detail = await this.backend.room(this.roomId);
      this.room.value = detail.room;
      this.members.value = detail.members;
      this.host.learnNames(detail.members);
    } catch (err) {
      this.error.value = describeError(err);
    }
  }

  close() {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.channel?.close();
    this.channel = null;
  }
}
