// Tells PostgreSQL how far the room's sequence went (chat_rooms.last_seq, forward only) and its
// activity time, ROOM_REPORT_SECONDS after new messages, with or without a sink: the floor a room
// that lost its storage continues after (recovery.ts), beside the archive's own (which is at most
// a flush window behind; without a sink, up to a report window of seqs could be given out again).
import { windowJitter, type TimedJob } from "../shared/alarm.js";
import type { RoomMeta } from "./store.js";

export interface SeqMarkHost {
  meta(): RoomMeta | null;
  /** the room is still learning its sequence: it has nothing to report */
  recovering(): boolean;
  /** the last seq PostgreSQL confirmed (kept in storage) */
  reported(): number;
  setReported(seq: number): void;
  record(roomId: string, seq: number): Promise<void>;
  wake(at: number): void;
  clock(): number;
}

const RETRY_MAX_MS = 300_000;

export class SeqMark implements TimedJob {
  private due: number | null = null;
  private failures = 0;
  private readonly delayMs: number;

  // Each room waits a little more or less than the window (like the outbox flusher, but drawn on
  // its own): rooms that got busy together do not all open a PostgreSQL connection in one instant.
  // Measured with 100 new rooms starting at once: without it every write fell in the same second
  // and the rooms' sends waited up to 700 ms under wrangler dev.
  constructor(
    private readonly host: SeqMarkHost,
    windowMs: number,
    random: () => number = Math.random,
  ) {
    this.delayMs = Math.round(windowMs * windowJitter(random));
  }

  /** New messages were stored: report them within a window (not once per message). */
  noted(now: number): void {
    if (this.due !== null) return;
    this.due = now + this.delayMs;
    this.host.wake(this.due);
  }

  dueAt(now: number): number | null {
    const meta = this.host.meta();
    if (!meta || this.host.recovering() || meta.last_seq <= this.host.reported()) return null;
    // after a restart the window is forgotten: report at once
    return this.due ?? now;
  }

  async run(now: number): Promise<void> {
    const due = this.dueAt(now);
    if (due !== null && due <= now) await this.reportNow();
  }

  /** Reports the room's last seq at once; false when PostgreSQL did not confirm it (a retry is set). */
  async reportNow(): Promise<boolean> {
    const meta = this.host.meta();
    if (!meta || this.host.recovering()) return false;
    const seq = meta.last_seq;
    if (seq <= this.host.reported()) return true;
    try {
      await this.host.record(meta.room_id, seq);
      this.host.setReported(Math.max(seq, this.host.reported()));
      this.failures = 0;
      // messages that came in meanwhile wait for the next window
      const moved = (this.host.meta()?.last_seq ?? seq) > seq;
      this.due = moved ? this.host.clock() + this.delayMs : null;
      return true;
    } catch (err) {
      this.failures += 1;
      const wait = Math.min(RETRY_MAX_MS, this.delayMs * 2 ** this.failures);
      console.warn(
        `room ${meta.room_id}: last seq ${seq} not recorded in PostgreSQL (${String(err)}); retry in ${wait} ms`,
      );
      this.due = this.host.clock() + wait;
      this.host.wake(this.due);
      return false;
    }
  }
}
