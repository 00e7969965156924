// PostgreSQL's copy of the room's read offsets (chat_members.last_read_seq): room lists, the
// presence consent of a direct room (its member read in it) and a room that lost its storage read
// it; the archive gets every moved offset with its batches anyway. It used to be written at every
// archive flush that carried a read: one PostgreSQL connection from every busy room every flush
// window. With 100 direct rooms whose readers mark what they see (as the apps do), that took the
// 1:1 send -> peer p99 from ~17 ms to ~775 ms on local workerd (bench/realtime.ts, BENCH_READS=1).
// So a room copies the offsets that moved since its last copy at most once per window
// (ROOM_REPORT_SECONDS, drawn per room like the seq report), the first after a quiet window at
// once: a first read gives its presence consent promptly, and a quiet room's reads arrive at once.
import { windowJitter, type TimedJob } from "../shared/alarm.js";

export interface ReadOffsetRow {
  user_id: string;
  read_seq: number;
}

export interface ReadCopyHost {
  roomId(): string | null;
  /** members whose read_seq moved past what PostgreSQL was last given */
  uncopied(): ReadOffsetRow[];
  /** PostgreSQL holds these now */
  markCopied(rows: readonly ReadOffsetRow[]): void;
  copy(roomId: string, rows: readonly ReadOffsetRow[]): Promise<void>;
  wake(at: number): void;
  clock(): number;
}

const RETRY_MAX_MS = 300_000;

export class ReadCopy implements TimedJob {
  private due: number | null = null;
  private lastCopyAt = -Infinity;
  private failures = 0;
  /** after a start, what an earlier life left uncopied is looked for once */
  private checkedAtStart = false;
  private readonly windowMs: number;

  constructor(
    private readonly host: ReadCopyHost,
    windowMs: number,
    random: () => number = Math.random,
  ) {
    this.windowMs = Math.round(windowMs * windowJitter(random));
  }

  /** A member's read offset moved (and the archive's outbox has it). */
  noted(now: number): void {
    this.checkedAtStart = true;
    if (this.due !== null) return;
    this.due = Math.max(now, this.lastCopyAt + this.windowMs);
    this.host.wake(this.due);
  }

  dueAt(now: number): number | null {
    if (!this.checkedAtStart) {
      this.checkedAtStart = true;
      if (this.due === null && this.host.roomId() !== null && this.host.uncopied().length > 0) this.due = now;
    }
    return this.due;
  }

  async run(now: number): Promise<void> {
    if (this.dueAt(now) === null || this.due! > now) return;
    const roomId = this.host.roomId();
    const rows = roomId ? this.host.uncopied() : [];
    if (!roomId || rows.length === 0) {
      this.due = null;
      return;
    }
    try {
      await this.host.copy(roomId, rows);
      this.host.markCopied(rows);
      this.failures = 0;
      this.lastCopyAt = now;
      this.due = null;
      // reads that moved while the copy was on its way wait for the next window
      if (this.host.uncopied().length > 0) this.noted(this.host.clock());
    } catch (err) {
      this.failures += 1;
      const wait = Math.min(RETRY_MAX_MS, this.windowMs * 2 ** (this.failures - 1));
      console.warn(`room ${roomId}: read offsets not copied to PostgreSQL (${String(err)}); retry in ${wait} ms`);
      this.due = this.host.clock() + wait;
      this.host.wake(this.due);
    }
  }
}
