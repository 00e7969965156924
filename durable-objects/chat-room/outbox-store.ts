// The room's outbox: stored messages, moved read offsets and push requests waiting to be handed
// on, in order, with their retry times. Rows enter in the same transaction as what they describe.
// The archive's part ('message', 'read') and the relay's ('push', 'push_read', 'push_delete') flush
// on their own.
import { PUSH_BATCH_MAX_DELETES, PUSH_BATCH_MAX_MESSAGES } from "../../protocol/index.js";
import type { RoomTables } from "./schema.js";

const PUSH_KINDS = "('push', 'push_read', 'push_delete')";

/** A push batch's rows are every push row up to `cut` (push-flusher.ts says why a range). */
export interface PushClaim {
  firstId: number;
  cut: number;
  /** tries of this batch, this one included */
  attempts: number;
}

export class OutboxStore {
  constructor(private readonly tables: RoomTables) {}

  private get sql(): SqlStorage {
    return this.tables.sql;
  }

  addMessage(seq: number, at: number): void {
    this.sql.exec("INSERT INTO outbox (kind, seq, created_at, next_at) VALUES ('message', ?, ?, ?)", seq, at, at);
  }
  /**
   * A member's read offset moved: it replaces the offset of theirs still waiting (only the newest
   * matters), so read rows are bounded by the members, not by the frames they send. The old row
   * goes and a new one comes (rather than an update in place): a flush that already holds the old
   * row settles only that one, and the new offset still goes out after it.
   */
  addRead(payload: { user_id: string }, now: number): void {
    this.sql.exec("DELETE FROM outbox WHERE kind = 'read' AND json_extract(payload, '$.user_id') = ?", payload.user_id);
    this.add("read", payload, now);
  }

  add(kind: "read" | "push_read", payload: unknown, now: number, seq: number | null = null): void {
    this.sql.exec(
      "INSERT INTO outbox (kind, seq, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?)",
      kind,
      seq,
      JSON.stringify(payload),
      now,
      now,
    );
  }

  /**
   * A message to push. A seq already waiting in no batch yet is not queued twice; one that waits
   * in a batch being sent (or retried) is: that batch named its audience already.
   */
  addPush(seq: number, now: number): void {
    this.sql.exec(
      `INSERT INTO outbox (kind, seq, created_at, next_at) SELECT 'push', ?, ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'push' AND seq = ? AND attempts = 0)`,
      seq,
      now,
      now,
      seq,
    );
  }

  /**
   * A member's read offset for the relay: it replaces theirs still waiting in no batch (so these
   * rows are bounded by the members, at most two each: one in the batch being sent, one after it).
   * One in a batch stays as it is, so a retried batch is the same batch (same id, same content).
   */
  addPushRead(payload: { user_id: string; read_seq: number }, now: number): void {
    this.sql.exec(
      "DELETE FROM outbox WHERE kind = 'push_read' AND attempts = 0 AND json_extract(payload, '$.user_id') = ?",
      payload.user_id,
    );
    this.add("push_read", payload, now);
  }

  /** A message was deleted: the relay clears the preview of any notification that shows it. */
  addPushDelete(seq: number, now: number): void {
    this.sql.exec("INSERT INTO outbox (kind, seq, created_at, next_at) VALUES ('push_delete', ?, ?, ?)", seq, now, now);
  }

  /** The push part's oldest row: when it was queued, its retry time and tries (null: nothing waits). */
  pushHead(): { createdAt: number; nextAt: number; attempts: number } | null {
    const [r] = this.sql
      .exec<{ created_at: number; next_at: number; attempts: number }>(
        `SELECT created_at, next_at, attempts FROM outbox WHERE kind IN ${PUSH_KINDS} ORDER BY id LIMIT 1`,
      )
      .toArray();
    return r ? { createdAt: r.created_at, nextAt: r.next_at, attempts: r.attempts } : null;
  }

  /** The batch tried before: the last row a try claimed (null: none waits for a retry). */
  retriedPush(): number | null {
    return this.sql
      .exec<{ cut: number | null }>(`SELECT max(id) AS cut FROM outbox WHERE kind IN ${PUSH_KINDS} AND attempts > 0`)
      .one().cut;
  }

  /**
   * Where a new batch ends: the oldest rows waiting, up to the `maxMessages`-th message and the
   * PUSH_BATCH_MAX_DELETES-th delete (what is past them waits for the batches after, so nothing
   * is lost to a bound). No message waits twice in no batch (addPush), so rows are messages.
   */
  nextPushCut(maxMessages: number): number | null {
    const nth = (kind: string, n: number) =>
      this.sql
        .exec<{ id: number }>(`SELECT id FROM outbox WHERE kind = ? ORDER BY id LIMIT 1 OFFSET ?`, kind, n - 1)
        .toArray()[0]?.id;
    const last = this.sql
      .exec<{ cut: number | null }>(`SELECT max(id) AS cut FROM outbox WHERE kind IN ${PUSH_KINDS}`)
      .one().cut;
    if (last === null) return null;
    return Math.min(last, nth("push", maxMessages) ?? last, nth("push_delete", PUSH_BATCH_MAX_DELETES) ?? last);
  }

  /** The last push row before `id` (null: none), for a batch cut shorter by its bytes. */
  pushCutBefore(id: number): number | null {
    return this.sql
      .exec<{ cut: number | null }>(`SELECT max(id) AS cut FROM outbox WHERE kind IN ${PUSH_KINDS} AND id < ?`, id)
      .one().cut;
  }

  /**
   * Claims every push row up to `cut` as one batch (by default the batch tried before, or else a
   * new one of the oldest rows). Claiming counts the try in storage before the request leaves, so
   * a batch interrupted by a restart is retried as the same batch.
   */
  claimPush(cut: number | null = this.retriedPush() ?? this.nextPushCut(PUSH_BATCH_MAX_MESSAGES)): PushClaim | null {
    if (cut === null) return null;
    this.sql.exec(`UPDATE outbox SET attempts = attempts + 1 WHERE kind IN ${PUSH_KINDS} AND id <= ?`, cut);
    const r = this.sql
      .exec<{ first: number | null; attempts: number }>(
        `SELECT min(id) AS first, max(attempts) AS attempts FROM outbox WHERE kind IN ${PUSH_KINDS} AND id <= ?`,
        cut,
      )
      .one();
    return r.first === null ? null : { firstId: r.first, cut, attempts: r.attempts };
  }

  /** A batch's contents: its messages in the order they were queued (row ids), its read offsets and deleted seqs. */
  pushRows(cut: number): {
    pushes: Array<{ id: number; seq: number }>;
    reads: Array<{ user_id: string; read_seq: number }>;
    deleted: number[];
  } {
    const pushes = this.sql
      .exec<{ id: number; seq: number }>("SELECT id, seq FROM outbox WHERE kind = 'push' AND id <= ? ORDER BY id", cut)
      .toArray()
      .map((r) => ({ id: r.id, seq: r.seq }));
    const reads = this.sql
      .exec<{ payload: string }>("SELECT payload FROM outbox WHERE kind = 'push_read' AND id <= ? ORDER BY id", cut)
      .toArray()
      .map((r) => JSON.parse(r.payload) as { user_id: string; read_seq: number });
    const deleted = this.sql
      .exec<{ seq: number }>("SELECT DISTINCT seq FROM outbox WHERE kind = 'push_delete' AND id <= ? ORDER BY seq", cut)
      .toArray()
      .map((r) => r.seq);
    return { pushes, reads, deleted };
  }

  /** Messages a batch left out for its bounds: queued again, behind what waits now. */
  requeuePush(seqs: readonly number[], now: number): void {
    for (const seq of seqs) this.addPush(seq, now);
  }

  settlePush(cut: number): void {
    this.sql.exec(`DELETE FROM outbox WHERE kind IN ${PUSH_KINDS} AND id <= ?`, cut);
  }

  deferPush(cut: number, nextAt: number): void {
    this.sql.exec(`UPDATE outbox SET next_at = ? WHERE kind IN ${PUSH_KINDS} AND id <= ?`, nextAt, cut);
  }

  /** A batch the relay refused as malformed: kept aside like the archive's (refused_push, refused_push_read). */
  parkPush(cut: number): void {
    this.sql.exec(`UPDATE outbox SET kind = 'refused_' || kind WHERE kind IN ${PUSH_KINDS} AND id <= ?`, cut);
  }

  /** The oldest archive items (messages and read offsets), whatever their retry time. */
  archiveHead(
    limit: number,
  ): Array<{ id: number; kind: string; seq: number | null; payload: unknown; created_at: number }> {
    return this.sql
      .exec<{ id: number; kind: string; seq: number | null; payload: string | null; created_at: number }>(
        "SELECT id, kind, seq, payload, created_at FROM outbox WHERE kind IN ('message', 'read') ORDER BY id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({ ...r, payload: r.payload ? JSON.parse(r.payload) : null }));
  }

  /** When the archive part of the outbox next wants a flush: its size, oldest item and retry time. */
  archiveState(countUpTo: number): { count: number; oldest: number | null; nextAt: number | null; attempts: number } {
    const r = this.sql
      .exec<{ n: number; oldest: number | null; next_at: number | null; attempts: number | null }>(
        "SELECT count(*) AS n, min(created_at) AS oldest, max(next_at) AS next_at, max(attempts) AS attempts FROM (SELECT * FROM outbox WHERE kind IN ('message', 'read') ORDER BY id LIMIT 1)",
      )
      .one();
    // counted only as far as a full batch: a backlog of hours must not make every look O(backlog)
    const count = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM (SELECT 1 FROM outbox WHERE kind IN ('message', 'read') LIMIT ?)",
        countUpTo,
      )
      .one().n;
    return { count, oldest: r.oldest, nextAt: r.next_at, attempts: r.attempts ?? 0 };
  }

  settle(ids: readonly number[]): void {
    if (ids.length)
      this.sql.exec("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  /** A failed flush: the head waits until `nextAt` (the whole outbox keeps its order behind it). */
  defer(ids: readonly number[], nextAt: number): void {
    if (ids.length)
      this.sql.exec(
        "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id IN (SELECT value FROM json_each(?))",
        nextAt,
        JSON.stringify(ids),
      );
  }

  /** A batch the sink refused as malformed: kept aside (not retried, not lost) for an operator. */
  park(ids: readonly number[]): void {
    if (ids.length)
      this.sql.exec(
        "UPDATE outbox SET kind = 'refused_' || kind WHERE id IN (SELECT value FROM json_each(?))",
        JSON.stringify(ids),
      );
  }

  counts(): Record<string, number> {
    const rows = this.sql
      .exec<{ kind: string; n: number }>("SELECT kind, count(*) AS n FROM outbox GROUP BY kind")
      .toArray();
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }
}
