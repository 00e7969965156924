// The room's messages: storing a batch of sends (dedupe, seq, time UUID), edits and deletes
// (message-changes.ts), replay, history pages of the hot tail, and upkeep's pruning (retention,
// dedupe window, hot-tail bounds).
import type { ArchiveHistoryQuery, Attachment, Message, SendFrame } from "../../protocol/index.js";
import type { TimeUuidGenerator } from "../shared/timeuuid.js";
import type { ChangedColumns, ChangeTarget, MessageStatus } from "./message-changes.js";
import type { OutboxStore } from "./outbox-store.js";
import type { RoomTables } from "./schema.js";
import type { RoomStore } from "./store.js";

type Row = Record<string, SqlStorageValue>;

export interface SendResult {
  sender_id: string;
  client_message_id: string;
  seq: number;
  message_id: string;
  created_at: string;
  duplicate: boolean;
  /** the stored message, for new sends */
  message?: Message;
}

export interface PendingSend {
  sender_id: string;
  frame: SendFrame;
}

function toMessage(roomId: string, r: Row): Message {
  const m: Message = {
    room_id: roomId,
    seq: r.seq as number,
    message_id: r.message_id as string,
    sender_id: r.sender_id as string,
    client_message_id: r.client_message_id as string,
    body: r.body as string,
    mentions: JSON.parse(r.mentions as string) as string[],
    mention_all: r.mention_all === 1,
    created_at: new Date(r.created_at as number).toISOString(),
  };
  if (r.reply_to_seq !== null && r.reply_to_seq !== undefined) m.reply_to_seq = r.reply_to_seq as number;
  if (r.attachments) m.attachments = JSON.parse(r.attachments as string) as Attachment[];
  if (r.status) {
    m.status = r.status as MessageStatus;
    m.updated_at = new Date(r.updated_at as number).toISOString();
    m.rev = r.rev as number;
  }
  return m;
}

/** a message frame's fields besides body, mentions and attachments (ids, seq, times, names) */
const FRAME_OVERHEAD_BYTES = 300;

export interface PruneSettings {
  dedupeMs: number;
  retentionMs: number;
  hotTailMaxMessages: number;
  hotTailMaxAgeMs: number;
  pushOutboxTtlMs: number;
  refusedOutboxTtlMs: number;
  refusedOutboxMax: number;
}

export class MessageStore {
  constructor(
    private readonly tables: RoomTables,
    private readonly meta: Pick<RoomStore, "setMeta">,
    private readonly outbox: Pick<OutboxStore, "addMessage">,
  ) {}

  private get sql(): SqlStorage {
    return this.tables.sql;
  }
  /**
   * Stores a group of sends: each is deduplicated on (sender, client_message_id) and, if new,
   * gets the next seq and a time UUID. The caller runs this inside one transaction.
   */
  commitSends(
    roomId: string,
    sends: readonly PendingSend[],
    now: number,
    ids: TimeUuidGenerator,
    lastSeq: number,
  ): { results: SendResult[]; lastSeq: number } {
    const results: SendResult[] = [];
    let seq = lastSeq;
    for (const { sender_id, frame } of sends) {
      const [dup] = this.sql
        .exec<{ seq: number; message_id: string; created_at: number }>(
          "SELECT seq, message_id, created_at FROM dedupe WHERE sender_id = ? AND client_message_id = ?",
          sender_id,
          frame.client_message_id,
        )
        .toArray();
      if (dup) {
        results.push({
          sender_id,
          client_message_id: frame.client_message_id,
          seq: dup.seq,
          message_id: dup.message_id,
          created_at: new Date(dup.created_at).toISOString(),
          duplicate: true,
        });
        continue;
      }
      seq += 1;
      const { id, ms } = ids.next(now);
      const mentions = [...new Set(frame.mentions ?? [])];
      const attachments = frame.attachments?.length ? JSON.stringify(frame.attachments) : null;
      this.sql.exec(
        "INSERT INTO messages (seq, message_id, sender_id, client_message_id, body, mentions, mention_all, reply_to_seq, attachments, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        seq,
        id,
        sender_id,
        frame.client_message_id,
        frame.body,
        JSON.stringify(mentions),
        frame.mention_all ? 1 : 0,
        frame.reply_to_seq ?? null,
        attachments,
        ms,
      );
      this.sql.exec(
        "INSERT INTO dedupe (sender_id, client_message_id, seq, message_id, created_at) VALUES (?, ?, ?, ?, ?)",
        sender_id,
        frame.client_message_id,
        seq,
        id,
        ms,
      );
      this.outbox.addMessage(seq, ms);
      const message: Message = {
        room_id: roomId,
        seq,
        message_id: id,
        sender_id,
        client_message_id: frame.client_message_id,
        body: frame.body,
        mentions,
        mention_all: frame.mention_all ?? false,
        created_at: new Date(ms).toISOString(),
        ...(frame.reply_to_seq !== undefined ? { reply_to_seq: frame.reply_to_seq } : {}),
        ...(frame.attachments?.length ? { attachments: frame.attachments } : {}),
      };
      results.push({
        sender_id,
        client_message_id: frame.client_message_id,
        seq,
        message_id: id,
        created_at: message.created_at,
        duplicate: false,
        message,
      });
    }
    if (seq !== lastSeq) this.meta.setMeta({ last_seq: seq, last_activity: now });
    return { results, lastSeq: seq };
  }

  /** What a change needs to know of message `seq` (null: the hot tail does not hold it). */
  changeTarget(seq: number): ChangeTarget | null {
    const [r] = this.sql
      .exec<{
        sender_id: string;
        mentions: string;
        mention_all: number;
        status: string | null;
        created_at: number;
        updated_at: number | null;
      }>("SELECT sender_id, mentions, mention_all, status, created_at, updated_at FROM messages WHERE seq = ?", seq)
      .toArray();
    if (!r) return null;
    return {
      seq,
      sender_id: r.sender_id,
      mentions: JSON.parse(r.mentions) as string[],
      mention_all: r.mention_all === 1,
      status: (r.status as MessageStatus | null) ?? null,
      created_at: r.created_at,
      updated_at: r.updated_at,
    };
  }

  /** The seq and rev of an edit or delete this user already applied with `opId` (null: a new op). */
  appliedOp(userId: string, opId: string): { seq: number; rev: number } | null {
    const [r] = this.sql
      .exec<{ seq: number; rev: number }>(
        "SELECT seq, rev FROM op_dedupe WHERE user_id = ? AND op_id = ?",
        userId,
        opId,
      )
      .toArray();
    return r ?? null;
  }

  /**
   * Writes a change of message `seq` inside the caller's transaction: its new version, the op's
   * dedupe key and the archive's outbox row (the outbox reads the message when it flushes, so it
   * sends this version, or a later one). The new version, as streams and history show it.
   */
  writeChange(roomId: string, userId: string, opId: string, seq: number, c: ChangedColumns, now: number): Message {
    const [row] = this.sql
      .exec(
        `UPDATE messages SET body = ?, status = ?, updated_at = ?, rev = ?,
           mentions = CASE WHEN ? THEN '[]' ELSE mentions END,
           mention_all = CASE WHEN ? THEN 0 ELSE mention_all END,
           attachments = CASE WHEN ? THEN NULL ELSE attachments END
         WHERE seq = ? RETURNING *`,
        c.body,
        c.status,
        c.updated_at,
        c.rev,
        c.clears ? 1 : 0,
        c.clears ? 1 : 0,
        c.clears ? 1 : 0,
        seq,
      )
      .toArray();
    if (!row) throw new Error(`message ${seq} is not in the hot tail`);
    this.sql.exec(
      "INSERT INTO op_dedupe (user_id, op_id, seq, rev, created_at) VALUES (?, ?, ?, ?, ?)",
      userId,
      opId,
      seq,
      c.rev,
      now,
    );
    this.outbox.addMessage(seq, now);
    return toMessage(roomId, row);
  }

  /**
   * The newest `limit` changes after `afterRev` to messages with floorSeq < seq ≤ maxSeq, newest
   * first, by rev, with the size of their frame (as replaySizes).
   */
  changeSizes(
    afterRev: number,
    floorSeq: number,
    maxSeq: number,
    limit: number,
  ): Array<{ rev: number; bytes: number }> {
    return this.sql
      .exec<{ rev: number; bytes: number }>(
        `SELECT rev, ${FRAME_OVERHEAD_BYTES} + length(CAST(body AS BLOB)) + length(CAST(mentions AS BLOB))
           + coalesce(length(CAST(attachments AS BLOB)), 0) AS bytes
         FROM messages WHERE rev > ? AND seq > ? AND seq <= ? ORDER BY rev DESC LIMIT ?`,
        afterRev,
        floorSeq,
        maxSeq,
        limit,
      )
      .toArray();
  }

  /** Messages changed with fromRev ≤ rev ≤ toRev and floorSeq < seq ≤ maxSeq, oldest change first, at most `limit`. */
  changePage(
    roomId: string,
    fromRev: number,
    toRev: number,
    floorSeq: number,
    maxSeq: number,
    limit: number,
  ): Message[] {
    return this.sql
      .exec(
        "SELECT * FROM messages WHERE rev >= ? AND rev <= ? AND seq > ? AND seq <= ? ORDER BY rev ASC LIMIT ?",
        fromRev,
        toRev,
        floorSeq,
        maxSeq,
        limit,
      )
      .toArray()
      .map((r) => toMessage(roomId, r));
  }

  /**
   * The newest `limit` messages after `afterSeq`, newest first, with the size of their frame
   * (the stored columns plus room for the fixed fields): replay decides from these what it sends
   * before it reads a single body.
   */
  replaySizes(afterSeq: number, limit: number): Array<{ seq: number; bytes: number }> {
    return this.sql
      .exec<{ seq: number; bytes: number }>(
        `SELECT seq, ${FRAME_OVERHEAD_BYTES} + length(CAST(body AS BLOB)) + length(CAST(mentions AS BLOB))
           + coalesce(length(CAST(attachments AS BLOB)), 0) AS bytes
         FROM messages WHERE seq > ? ORDER BY seq DESC LIMIT ?`,
        afterSeq,
        limit,
      )
      .toArray();
  }

  /** Messages with fromSeq ≤ seq ≤ toSeq, oldest first, at most `limit` (one page of a replay). */
  replayPage(roomId: string, fromSeq: number, toSeq: number, limit: number): Message[] {
    return this.sql
      .exec("SELECT * FROM messages WHERE seq >= ? AND seq <= ? ORDER BY seq ASC LIMIT ?", fromSeq, toSeq, limit)
      .toArray()
      .map((r) => toMessage(roomId, r));
  }

  /** A history page within the hot tail: newest first before a seq (or from the end), oldest first after one. */
  page(roomId: string, floorSeq: number, q: ArchiveHistoryQuery): { messages: Message[]; has_more: boolean } {
    let rows: Row[];
    if (q.after_seq !== undefined) {
      rows = this.sql
        .exec(
          "SELECT * FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?",
          Math.max(q.after_seq, floorSeq),
          q.limit + 1,
        )
        .toArray();
    } else {
      const before = q.before_seq ?? Number.MAX_SAFE_INTEGER;
      rows = this.sql
        .exec(
          "SELECT * FROM messages WHERE seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?",
          before,
          floorSeq,
          q.limit + 1,
        )
        .toArray();
    }
    return { messages: rows.slice(0, q.limit).map((r) => toMessage(roomId, r)), has_more: rows.length > q.limit };
  }

  /** The oldest seq still in the hot tail (0 when empty). */
  oldestSeq(): number {
    return this.sql.exec<{ s: number | null }>("SELECT min(seq) AS s FROM messages").one().s ?? 0;
  }

  message(roomId: string, seq: number): Message | null {
    const [row] = this.sql.exec("SELECT * FROM messages WHERE seq = ?", seq).toArray();
    return row ? toMessage(roomId, row) : null;
  }
  /**
   * Drops what has outlived its purpose: expired tickets, dedupe keys past their window, push
   * rows the relay did not take within the push TTL, messages past retention, and the hot tail beyond its bounds, but never
   * a message the outbox still has to hand on (unless retention says it must go).
   */
  prune(now: number, c: PruneSettings): { messages: number } {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
    // dedupe keys and push rows (which carry a preview) never outlive the messages they describe
    this.sql.exec("DELETE FROM dedupe WHERE created_at <= ?", now - Math.min(c.dedupeMs, c.retentionMs));
    this.sql.exec("DELETE FROM op_dedupe WHERE created_at <= ?", now - Math.min(c.dedupeMs, c.retentionMs));
    const pushGone = this.sql.exec(
      "DELETE FROM outbox WHERE kind IN ('push', 'push_read', 'push_delete') AND created_at <= ?",
      now - Math.min(c.pushOutboxTtlMs, c.retentionMs),
    ).rowsWritten;
    if (pushGone > 0) console.warn(`outbox: dropped ${pushGone} push rows the relay did not take in time`);
    // a message exactly as old as the retention period is past it (the alarm fires at that instant)
    let removed = this.sql.exec("DELETE FROM messages WHERE created_at <= ?", now - c.retentionMs).rowsWritten;
    this.sql.exec(
      "DELETE FROM outbox WHERE kind IN ('message', 'refused_message') AND created_at <= ?",
      now - c.retentionMs,
    );
    this.pruneRefused(now, c);
    // a message still to archive, or still to push (its preview is read at the flush), stays
    const pendingFrom =
      this.sql.exec<{ s: number | null }>("SELECT min(seq) AS s FROM outbox WHERE kind IN ('message', 'push')").one()
        .s ?? Number.MAX_SAFE_INTEGER;
    const maxSeq = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
    const byCount = maxSeq - c.hotTailMaxMessages; // seqs at or below this are beyond the count bound
    // a refused batch keeps its own messages for an operator, and holds back nothing else
    removed += this.sql.exec(
      `DELETE FROM messages WHERE seq < ? AND (seq <= ? OR created_at < ?)
         AND seq NOT IN (SELECT seq FROM outbox WHERE kind = 'refused_message')`,
      pendingFrom,
      byCount,
      now - c.hotTailMaxAgeMs,
    ).rowsWritten;
    return { messages: removed };
  }

  /**
   * Rows the sink refused as malformed wait for an operator, but not for ever and not without
   * bound: past their time, and beyond the newest `refusedOutboxMax`, they go (loudly).
   */
  private pruneRefused(now: number, c: PruneSettings): void {
    let dropped = this.sql.exec(
      "DELETE FROM outbox WHERE kind LIKE 'refused_%' AND created_at < ?",
      now - c.refusedOutboxTtlMs,
    ).rowsWritten;
    dropped += this.sql.exec(
      `DELETE FROM outbox WHERE kind LIKE 'refused_%' AND id NOT IN
         (SELECT id FROM outbox WHERE kind LIKE 'refused_%' ORDER BY id DESC LIMIT ?)`,
      c.refusedOutboxMax,
    ).rowsWritten;
    if (dropped > 0)
      console.error(`outbox: dropped ${dropped} rows the sink or the relay had refused (kept past their bound)`);
  }

  oldestMessageAt(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(created_at) AS t FROM messages").one().t;
  }
}
