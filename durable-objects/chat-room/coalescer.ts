// Receipts, typing and activity go out at once in rooms up to 100 members; above that they
// gather here and leave together at most once a second, so nothing per message grows with
// members × members. The one rule that tells the two apart is `isLarge()`.
import type { ServerFrame } from "../../protocol/index.js";
import type { TimedJob } from "../shared/alarm.js";

/** users typing that one flush relays in a large room (the rest were typing too, nobody needs all) */
export const MAX_TYPING_PER_FLUSH = 5;

export interface CoalescerHost {
  roomId(): string;
  memberCount(): number;
  broadcast(frame: ServerFrame, opts?: { skip?: WebSocket; exceptUser?: string }): void;
  sendToUser(userId: string, frame: ServerFrame): void;
  /**
   * online members without a stream hear of the room's latest message (user -> mentioned);
   * `changeOnly`: no new message, the latest one was edited or deleted
   */
  notifyActivity(users: ReadonlyMap<string, boolean>, changeOnly: boolean): void;
  wake(at: number): void;
}

export interface CoalescerSettings {
  immediateFanoutMaxMembers: number;
  coalesceMs: number;
  typingIntervalMs: number;
}

export class Coalescer implements TimedJob {
  private readonly activity = new Map<string, boolean>();
  /** whether the activity gathered includes a new message (else only a change of the latest one) */
  private activityHasMessage = false;
  private readonly delivered = new Map<string, Map<string, number>>(); // sender -> member -> seq
  private readonly reads = new Map<string, number>();
  private readonly typing = new Set<string>();
  private readonly typingAt = new Map<string, number>();
  private lastFlush = 0;

  constructor(
    private readonly host: CoalescerHost,
    private readonly s: CoalescerSettings,
  ) {}

  isLarge(): boolean {
    return this.host.memberCount() > this.s.immediateFanoutMaxMembers;
  }

  /** A member read up to `readSeq`: everyone holding a stream sees the receipt. */
  read(userId: string, readSeq: number): void {
    if (!this.isLarge()) return this.host.broadcast(this.receipt({ user_id: userId, read_seq: readSeq }));
    this.reads.set(userId, readSeq);
    this.pending();
  }

  /** `users` have `seq`: only its sender hears it. */
  deliveredTo(sender: string, users: readonly string[], seq: number): void {
    if (!this.isLarge()) {
      for (const u of users)
        if (u !== sender) this.host.sendToUser(sender, this.receipt({ user_id: u, delivered_seq: seq }));
      return;
    }
    // no copy of `users` here: in a large room it is every member with a stream, on every commit
    let pending = this.delivered.get(sender);
    let added = false;
    for (const u of users) {
      if (u === sender) continue;
      if (!pending) this.delivered.set(sender, (pending = new Map<string, number>()));
      pending.set(u, seq);
      added = true;
    }
    if (added) this.pending();
  }

  /** Typing is ephemeral: over the interval it is dropped, never answered with an error. */
  typingFrom(userId: string, ws: WebSocket, now: number): void {
    if (now - (this.typingAt.get(userId) ?? 0) < this.s.typingIntervalMs) return;
    this.typingAt.set(userId, now);
    if (this.typingAt.size > 5000) this.typingAt.clear();
    if (!this.isLarge()) {
      return this.host.broadcast({ type: "typing", room_id: this.host.roomId(), user_id: userId }, { skip: ws });
    }
    this.typing.add(userId);
    this.pending();
  }

  /**
   * Online members without a stream (user -> mentioned) hear of new messages, or (`change`) of an
   * edit or delete of the room's latest message, which their room list shows.
   */
  activityFor(
    users: ReadonlyArray<{ user_id: string; mentioned: boolean }>,
    cause: "message" | "change" = "message",
  ): void {
    if (users.length === 0) return;
    if (!this.isLarge())
      return this.host.notifyActivity(new Map(users.map((u) => [u.user_id, u.mentioned])), cause === "change");
    this.activityHasMessage ||= cause === "message";
    for (const u of users) this.activity.set(u.user_id, (this.activity.get(u.user_id) ?? false) || u.mentioned);
    this.pending();
  }

  dueAt(now: number): number | null {
    const any = this.activity.size || this.delivered.size || this.reads.size || this.typing.size;
    return any ? Math.max(now, this.lastFlush + this.s.coalesceMs) : null;
  }

  run(now: number): void {
    this.lastFlush = now;
    const room_id = this.host.roomId();
    if (this.reads.size) {
      const offsets = [...this.reads].map(([user_id, read_seq]) => ({ user_id, read_seq }));
      this.reads.clear();
      this.host.broadcast({ type: "receipts", room_id, offsets });
    }
    for (const [sender, delivered] of this.delivered) {
      const offsets = [...delivered].map(([user_id, delivered_seq]) => ({ user_id, delivered_seq }));
      this.host.sendToUser(sender, { type: "receipts", room_id, offsets });
    }
    this.delivered.clear();
    for (const user of [...this.typing].slice(0, MAX_TYPING_PER_FLUSH)) {
      this.host.broadcast({ type: "typing", room_id, user_id: user }, { exceptUser: user });
    }
    this.typing.clear();
    if (this.activity.size) {
      const users = new Map(this.activity);
      const changeOnly = !this.activityHasMessage;
      this.activity.clear();
      this.activityHasMessage = false;
      this.host.notifyActivity(users, changeOnly);
    }
  }

  private receipt(r: { user_id: string; read_seq?: number; delivered_seq?: number }): ServerFrame {
    return { type: "receipt", room_id: this.host.roomId(), ...r };
  }

  /** Called per message, so it asks for one time only instead of every job's. */
  private pending(): void {
    this.host.wake(Math.max(Date.now(), this.lastFlush + this.s.coalesceMs));
  }
}
