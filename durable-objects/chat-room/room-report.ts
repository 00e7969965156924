// What the room tells PostgreSQL, in one round trip per window: how far its sequence went
// (chat_rooms.last_seq, forward only, with the newest message's time as the room's activity) and
// the members' read offsets that moved (chat_members.last_read_seq, forward only).
//
// The sequence is the floor a room that lost its storage continues after (recovery.ts), beside the
// archive's own (at most a flush window behind; without a sink, up to a window of seqs could be
// given out again). The read offsets serve room lists, a direct room's presence consent (its member
// read in it) and a room that lost its storage; the archive gets every moved offset anyway.
//
// Why windows: read offsets used to be written at every archive flush that carried a read, one
// connection from every busy room each time; with 100 direct rooms whose readers mark what they see
// (as the apps do) that took the 1:1 send -> peer p99 from ~17 ms to ~775 ms on local workerd
// (bench/realtime.ts, BENCH_READS=1). And the two used to be separate jobs, each with its own
// connection per window: one report carries both.
//
// When: new messages are reported a window after the first of them; the first read after a quiet
// window goes at once (a first read gives its presence consent promptly), later ones wait for the
// window. Whichever is due first takes the other along. Each room draws its window (0.75-1.25 of
// ROOM_REPORT_SECONDS): rooms that got busy together do not all open a connection in one instant
// (100 new rooms starting at once put every write in the same second, and their sends waited up
// to 700 ms under wrangler dev).
import { windowJitter, type TimedJob } from "../shared/alarm.js";
import type { RoomMeta } from "./store.js";

export interface ReadOffsetRow {
  user_id: string;
  read_seq: number;
}

/** One report: `seq` when the sequence moved past what PostgreSQL confirmed, `reads` when any moved. */
export interface RoomReportBody {
  seq: number | null;
  reads: readonly ReadOffsetRow[];
}

export interface RoomReportHost {
  meta(): RoomMeta | null;
  /** the room is still learning its sequence: it has no sequence to report */
  recovering(): boolean;
  /** the last seq PostgreSQL confirmed (kept in storage) */
  reported(): number;
  setReported(seq: number): void;
  /** members whose read_seq moved past what PostgreSQL was last given */
  uncopied(): ReadOffsetRow[];
  /** PostgreSQL holds these now */
  markCopied(rows: readonly ReadOffsetRow[]): void;
  /** one round trip to PostgreSQL */
  send(roomId: string, report: RoomReportBody): Promise<void>;
  wake(at: number): void;
  clock(): number;
}

const RETRY_MAX_MS = 300_000;

export class RoomReport implements TimedJob {
  private seqDue: number | null = null;
  private readsDue: number | null = null;
  private lastReadsAt = -Infinity;
  private failures = 0;
  /** after a start, what an earlier life left uncopied is looked for once */
  private checkedAtStart = false;
  private readonly windowMs: number;

  constructor(
    private readonly host: RoomReportHost,
    windowMs: number,
    random: () => number = Math.random,
  ) {
    this.windowMs = Math.round(windowMs * windowJitter(random));
  }

  /** New messages were stored: reported within a window (not once per message). */
  messagesNoted(now: number): void {
    if (this.seqDue !== null) return;
    this.seqDue = now + this.windowMs;
    this.host.wake(this.seqDue);
  }

  /** A member's read offset moved. */
  readsNoted(now: number): void {
    this.checkedAtStart = true;
    if (this.readsDue !== null) return;
    this.readsDue = Math.max(now, this.lastReadsAt + this.windowMs);
    this.host.wake(this.readsDue);
  }

  dueAt(now: number): number | null {
    const meta = this.host.meta();
    if (!this.checkedAtStart) {
      this.checkedAtStart = true;
      if (this.readsDue === null && meta && this.host.uncopied().length > 0) this.readsDue = now;
    }
    // after a restart the sequence's window is forgotten: what PostgreSQL has not confirmed goes at once
    const seqDue = this.seqToReport(meta) !== null ? (this.seqDue ?? now) : null;
    if (seqDue === null) return this.readsDue;
    return this.readsDue === null ? seqDue : Math.min(seqDue, this.readsDue);
  }

  async run(now: number): Promise<void> {
    const due = this.dueAt(now);
    if (due === null || due > now) return;
    const meta = this.host.meta();
    const seq = this.seqToReport(meta);
    const reads = meta ? this.host.uncopied() : [];
    if (!meta || (seq === null && reads.length === 0)) {
      this.seqDue = this.readsDue = null;
      return;
    }
    try {
      await this.host.send(meta.room_id, { seq, reads });
    } catch (err) {
      this.failures += 1;
      const wait = Math.min(RETRY_MAX_MS, this.windowMs * 2 ** (this.failures - 1));
      const what = [seq !== null ? `last seq ${seq}` : "", reads.length ? `${reads.length} read offsets` : ""];
      console.warn(
        `room ${meta.room_id}: ${what.filter(Boolean).join(" and ")} not recorded in PostgreSQL (${String(err)}); retry in ${wait} ms`,
      );
      const at = this.host.clock() + wait;
      this.seqDue = seq !== null ? at : null;
      this.readsDue = reads.length ? at : null;
      this.host.wake(at);
      return;
    }
    this.failures = 0;
    if (seq !== null) this.host.setReported(Math.max(seq, this.host.reported()));
    if (reads.length) {
      this.host.markCopied(reads);
      this.lastReadsAt = now;
    }
    this.seqDue = this.readsDue = null;
    // what moved while the report was on its way waits for the next window
    const clock = this.host.clock();
    if (this.seqToReport(this.host.meta()) !== null) this.messagesNoted(clock);
    if (this.host.uncopied().length > 0) this.readsNoted(clock);
  }

  private seqToReport(meta: RoomMeta | null): number | null {
    if (!meta || this.host.recovering() || meta.last_seq <= this.host.reported()) return null;
    return meta.last_seq;
  }
}
