// A room that starts without storage (first use, or storage lost) does not know where its
// sequence stands: seqs it gave out before may be in the archive and in PostgreSQL. Until both
// have answered (or no sink is configured, or PostgreSQL says the room never had a message) it
// takes no message, so it never gives a seq out twice; then it continues after the higher of the
// two and restores its members' read offsets.
import type { TimedJob } from "../shared/alarm.js";
import type { RoomMeta } from "./store.js";

/** What one source knows of the room's sequence. */
export interface SeqFacts {
  last_seq: number;
  offsets: ReadonlyArray<{ user_id: string; read_seq: number }>;
  /** PostgreSQL only: later joiners and where their history starts (null: never recorded) */
  joined?: ReadonlyArray<{ user_id: string; joined_seq: number | null }>;
}

export interface RecoveryHost {
  meta(): RoomMeta | null;
  /** the room started without storage and has not learned its sequence yet (kept in storage) */
  pending(): boolean;
  /** PostgreSQL's facts; null when it has no such room */
  database(roomId: string): Promise<SeqFacts | null>;
  /** the archive's facts; null when no sink is configured */
  archive: ((roomId: string) => Promise<SeqFacts>) | null;
  /**
   * In one transaction: last_seq up to at least `lastSeq`, each member's read (and delivered)
   * offset forward to `offsets`' (at most lastSeq), pending cleared. `reported` is what
   * PostgreSQL already holds. `joined`: each later joiner's history floor (null: unknown).
   */
  restore(
    lastSeq: number,
    offsets: ReadonlyMap<string, number>,
    reported: number,
    joined: ReadonlyMap<string, number | null>,
  ): void;
  wake(at: number): void;
  clock(): number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export class Recovery implements TimedJob {
  private running: Promise<boolean> | null = null;
  private retryAt: number | null = null;
  private failures = 0;

  constructor(private readonly host: RecoveryHost) {}

  /** Whether the room knows its sequence; starts (or joins) an attempt when it does not. */
  known(): Promise<boolean> {
    if (!this.host.pending()) return Promise.resolve(true);
    this.running ??= this.attempt().finally(() => (this.running = null));
    return this.running;
  }

  /** Like known(), but stops waiting after `ms` (the attempt goes on, and the alarm retries). */
  async within(ms: number): Promise<boolean> {
    if (!this.host.pending()) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    try {
      return await Promise.race([this.known(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  dueAt(now: number): number | null {
    if (!this.host.meta() || !this.host.pending()) return null;
    return Math.max(now, this.retryAt ?? now);
  }

  async run(): Promise<void> {
    await this.known();
  }

  private async attempt(): Promise<boolean> {
    const meta = this.host.meta();
    if (!meta) return false;
    try {
      const [db, archive] = await Promise.all([
        this.host.database(meta.room_id),
        this.host.archive
          ? this.host.archive(meta.room_id).then(
              (facts) => ({ facts }),
              (error: unknown) => ({ error }),
            )
          : null,
      ]);
      // PostgreSQL hears of a room's seqs only every ROOM_REPORT_SECONDS, so with a sink the
      // archive must answer too (a new room never gets here: its creation says it has no seq)
      if (archive && "error" in archive) throw archive.error;
      const archived = archive && "facts" in archive ? archive.facts : null;
      const offsets = new Map<string, number>();
      for (const o of [...(db?.offsets ?? []), ...(archived?.offsets ?? [])]) {
        offsets.set(o.user_id, Math.max(offsets.get(o.user_id) ?? 0, o.read_seq));
      }
      const lastSeq = Math.max(db?.last_seq ?? 0, archived?.last_seq ?? 0);
      const joined = new Map((db?.joined ?? []).map((j) => [j.user_id, j.joined_seq]));
      if (this.host.pending()) this.host.restore(lastSeq, offsets, db?.last_seq ?? 0, joined);
      this.failures = 0;
      this.retryAt = null;
      if (lastSeq > 0) console.log(`room ${meta.room_id}: started without storage; continues after seq ${lastSeq}`);
      return true;
    } catch (err) {
      this.failures += 1;
      const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      this.retryAt = this.host.clock() + wait;
      console.warn(
        `room ${meta.room_id}: cannot tell where its sequence stands (${String(err)}); sends wait, retry in ${wait} ms`,
      );
      this.host.wake(this.retryAt);
      return false;
    }
  }
}
