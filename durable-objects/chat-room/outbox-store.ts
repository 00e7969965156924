// The room's outbox: stored messages, moved read offsets and push requests waiting to be handed
// on, in order, with their retry times. Rows enter in the same transaction as what they describe.
import type { RoomTables } from "./schema.js";

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

  add(kind: "read" | "push", payload: unknown, now: number, seq: number | null = null): void {
    this.sql.exec(
      "INSERT INTO outbox (kind, seq, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?)",
      kind,
      seq,
      JSON.stringify(payload),
      now,
      now,
    );
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
