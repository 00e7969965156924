// The one path by which a member's offsets move. `read_seq` only moves forward (clamped to the
// last seq), enters the outbox in the same transaction (and the push outbox when the relay holds
// notifications of theirs this read covers), is seen by the room's streams as a
// receipt and by the reader's other devices as `read_sync`. `delivered_seq` is reported to the
// sender only; for a member holding a stream it is the last seq by construction, so it is written
// when their last stream closes, never per message.
import type { RoomMeta } from "./store.js";

export interface OffsetsHost {
  meta(): RoomMeta | null;
  transaction<T>(fn: () => T): T;
  /** moves read_seq forward; the new value, or null when it did not move */
  markRead(userId: string, seq: number, lastSeq: number): number | null;
  markDelivered(userIds: readonly string[], seq: number): void;
  isMember(userId: string): boolean;
  addReadRow(payload: { room_id: string; user_id: string; read_seq: number; updated_at: string }, now: number): void;
  /** the outbox has new items */
  outboxNoted(now: number): void;
  /** a read offset moved: PostgreSQL's copy of it is due (room-report.ts) */
  readsMoved(now: number): void;
  /** where the member's reading and pushing stand (before a read moves it); null for a non-member */
  offsetsOf(userId: string): { read_seq: number; pushed_seq: number } | null;
  /** a read offset for the relay's outbox; false (nothing queued) without a relay */
  addPushReadRow(payload: { user_id: string; read_seq: number }, now: number): boolean;
  pushNoted(now: number): void;
  /** receipts to the room's streams and to senders: at once, or coalesced in a large room */
  receipts: { read(userId: string, readSeq: number): void };
  /** the reader's other devices (those without this stream too) catch up through the session */
  readSync(userId: string, roomId: string, readSeq: number, fromDevice: string): Promise<void>;
  waitUntil(p: Promise<unknown>): void;
  clock(): number;
}

/** What a send batch's reads moved: receipts to send, and whether the push outbox got a read. */
export interface SenderReads {
  receipts: Array<[userId: string, readSeq: number]>;
  relay: boolean;
}

export class Offsets {
  constructor(private readonly host: OffsetsHost) {}

  read(userId: string, deviceId: string, seq: number): void {
    const h = this.host;
    const meta = h.meta();
    if (!meta) return;
    const now = h.clock();
    let toRelay = false;
    const moved = h.transaction(() => {
      const before = h.offsetsOf(userId);
      const to = h.markRead(userId, seq, meta.last_seq);
      if (to !== null) {
        h.addReadRow(
          { room_id: meta.room_id, user_id: userId, read_seq: to, updated_at: new Date(now).toISOString() },
          now,
        );
        toRelay = this.clearPushed(before, userId, to, now);
      }
      return to;
    });
    if (moved === null) return;
    h.outboxNoted(now);
    h.readsMoved(now);
    if (toRelay) h.pushNoted(now);
    h.receipts.read(userId, moved);
    h.waitUntil(
      h.readSync(userId, meta.room_id, moved, deviceId).catch((err: unknown) => console.warn("read_sync failed", err)),
    );
  }

  /**
   * Inside a send batch's transaction: sending is reading, as in every chat app. Each sender's
   * read_seq moves to their newest message of the batch, so their own messages never count as
   * unread (the activity their other devices get carries the new read_seq: no read_sync needed), and
   * a reply from one device clears the notifications another was pushed. Returns the reads that
   * passed someone else's message: those get a receipt once the frames left; a read over one's own
   * messages only tells nobody anything.
   */
  sent(stored: ReadonlyArray<{ seq: number; sender_id: string }>, lastSeqBefore: number, now: number): SenderReads {
    const h = this.host;
    const meta = h.meta();
    const out: SenderReads = { receipts: [], relay: false };
    if (!meta || stored.length === 0) return out;
    const newest = new Map<string, number>();
    for (const m of stored) newest.set(m.sender_id, Math.max(newest.get(m.sender_id) ?? 0, m.seq));
    for (const [userId, seq] of newest) {
      const before = h.offsetsOf(userId);
      if (before === null) continue;
      const to = h.markRead(userId, seq, seq);
      if (to === null) continue;
      const passedOthers = before.read_seq < lastSeqBefore || stored.some((m) => m.sender_id !== userId && m.seq <= to);
      // Over one's own messages only, the read stays in the room: every send would otherwise add
      // an outbox row, an archive write and a PostgreSQL copy (room-report.ts) that tell nobody
      // anything; the copies only serve a room that lost its storage, where one's own messages
      // may then count as unread until the next read or send.
      if (!passedOthers) continue;
      h.addReadRow(
        { room_id: meta.room_id, user_id: userId, read_seq: to, updated_at: new Date(now).toISOString() },
        now,
      );
      // what the relay holds for them is of others' messages, so only a read that passed others clears it
      if (this.clearPushed(before, userId, to, now)) out.relay = true;
      out.receipts.push([userId, to]);
    }
    return out;
  }

  /** After the batch's frames left: the receipts and the outboxes' alarms of what sent() moved. */
  sentCommitted(reads: SenderReads, now: number): void {
    if (reads.receipts.length) this.host.readsMoved(now);
    if (reads.relay) this.host.pushNoted(now);
    for (const [userId, seq] of reads.receipts) this.host.receipts.read(userId, seq);
  }

  /**
   * The relay only holds (unread) notifications of a member's up to what it was handed for them: a
   * member it never pushed to, or one who had read all of that, costs it no request.
   */
  private clearPushed(
    before: { read_seq: number; pushed_seq: number } | null,
    userId: string,
    to: number,
    now: number,
  ): boolean {
    return (
      before !== null &&
      before.pushed_seq > before.read_seq &&
      this.host.addPushReadRow({ user_id: userId, read_seq: to }, now)
    );
  }

  /** Members who hold a stream have everything up to the room's last seq (written, not reported). */
  caughtUp(userId: string): void {
    const meta = this.host.meta();
    if (meta && this.host.isMember(userId)) this.host.markDelivered([userId], meta.last_seq);
  }
}
