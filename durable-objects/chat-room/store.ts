// The ChatRoom's storage: every read and write of its SQLite tables. Synchronous (the object's
// SQLite runs in-process), so a caller can wrap several calls in one transactionSync.
import type { Attachment, Message, RoomSnapshot, SendFrame } from "../../protocol/index.js";
import type { TimeUuidGenerator } from "../shared/timeuuid.js";
import type { MembershipPlan, MemberState } from "./members.js";
import { recordTicketUse } from "../shared/used-tickets.js";
import { ROOM_SCHEMA } from "./schema.js";

type Row = Record<string, SqlStorageValue>;

export interface RoomMeta {
  room_id: string;
  type: "direct" | "group";
  version: number;
  active: boolean;
  last_seq: number;
  /** epoch ms of the last thing that happened here (message, join, socket) */
  last_activity: number;
}

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
  return m;
}

function toMember(r: Row): MemberState {
  return {
    user_id: r.user_id as string,
    role: r.role as string,
    can_send: r.can_send === 1,
    joined_at: r.joined_at as string,
    joined_seq: r.joined_seq as number,
    read_seq: r.read_seq as number,
    delivered_seq: r.delivered_seq as number,
    subscribed: r.subscribed === 1,
  };
}

export class RoomStore {
  private created = false;

  // Tables are made on the first write, not in the constructor: asking an object for a room that
  // does not exist (a random id in a URL) must not leave storage behind.
  constructor(private readonly raw: SqlStorage) {}

  private get sql(): SqlStorage {
    if (!this.created) this.createTables();
    return this.raw;
  }

  private createTables(): void {
    for (const stmt of ROOM_SCHEMA) this.raw.exec(stmt);
    this.created = true;
  }

  /** Whether this object holds a room at all (reads nothing into existence). */
  private hasTables(): boolean {
    if (this.created) return true;
    const n = this.raw
      .exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
      .one().n;
    if (n > 0) this.createTables(); // runs statements added since the tables were made
    return n > 0;
  }

  /** After deleteAll(): the tables are gone and come back with the next write. */
  dropped(): void {
    this.created = false;
    this.memberCache = null;
    this.blockCache = null;
  }

  // ---- meta ----
  meta(): RoomMeta | null {
    if (!this.hasTables()) return null;
    const rows = this.sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta").toArray();
    if (rows.length === 0) return null;
    const kv = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (!kv.room_id) return null;
    return {
      room_id: kv.room_id,
      type: kv.type === "direct" ? "direct" : "group",
      version: Number(kv.version ?? 0),
      active: kv.active !== "0",
      last_seq: Number(kv.last_seq ?? 0),
      last_activity: Number(kv.last_activity ?? 0),
    };
  }

  /** A free-form setting of the room's own upkeep (e.g. when maintenance is next due). */
  kv(key: string): string | undefined {
    if (!this.hasTables()) return undefined;
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  setKv(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  setMeta(values: Partial<Record<keyof RoomMeta, string | number | boolean>>): void {
    for (const [key, value] of Object.entries(values)) {
      this.setKv(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
    }
  }

  // ---- members ----
  // Every send plans its fan-out over all members; they are read from SQLite once and kept until
  // something changes them (every write below drops the copy).
  private memberCache: MemberState[] | null = null;

  /** All members; the array is shared, treat it as read-only. */
  members(): readonly MemberState[] {
    this.memberCache ??= this.sql.exec("SELECT * FROM members").toArray().map(toMember);
    return this.memberCache;
  }

  member(userId: string): MemberState | null {
    const [row] = this.sql.exec("SELECT * FROM members WHERE user_id = ?", userId).toArray();
    return row ? toMember(row) : null;
  }

  memberCount(): number {
    return this.members().length;
  }

  upsertMember(m: MemberState): void {
    this.memberCache = null;
    this.sql.exec(
      `INSERT INTO members (user_id, role, can_send, joined_at, joined_seq, read_seq, delivered_seq, subscribed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, can_send = excluded.can_send, joined_at = excluded.joined_at,
         joined_seq = excluded.joined_seq, read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq`,
      m.user_id,
      m.role,
      m.can_send ? 1 : 0,
      m.joined_at,
      m.joined_seq,
      m.read_seq,
      m.delivered_seq,
      m.subscribed ? 1 : 0,
    );
  }

  removeMember(userId: string): void {
    this.memberCache = null;
    this.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
  }

  /** A membership snapshot's changes, written together (the caller holds the transaction). */
  applyMembership(
    plan: Pick<MembershipPlan, "upserts" | "removed">,
    snapshot: RoomSnapshot,
    lastSeq: number,
    touchedAt: number | null,
  ): void {
    for (const m of plan.upserts) this.upsertMember(m);
    for (const id of plan.removed) this.removeMember(id);
    this.setBlocks(snapshot.blocks);
    this.setMeta({
      room_id: snapshot.room_id,
      type: snapshot.type,
      version: snapshot.version,
      active: snapshot.active,
      last_seq: lastSeq,
      ...(touchedAt !== null ? { last_activity: touchedAt } : {}),
    });
  }

  // read on every send (a blocked direct room refuses it): kept like the members
  private blockCache: Array<[string, string]> | null = null;

  setBlocks(blocks: ReadonlyArray<readonly [string, string]>): void {
    this.blockCache = null;
    this.sql.exec("DELETE FROM blocks");
    for (const [a, b] of blocks) this.sql.exec("INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES (?, ?)", a, b);
  }

  blocks(): ReadonlyArray<readonly [string, string]> {
    this.blockCache ??= this.sql
      .exec<{ blocker: string; blocked: string }>("SELECT blocker, blocked FROM blocks")
      .toArray()
      .map((r) => [r.blocker, r.blocked]);
    return this.blockCache;
  }

  setSubscribed(userId: string, on: boolean): boolean {
    this.memberCache = null;
    return this.sql.exec("UPDATE members SET subscribed = ? WHERE user_id = ?", on ? 1 : 0, userId).rowsWritten > 0;
  }

  subscribedCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members WHERE subscribed = 1").one().n;
  }

  /** Moves delivered_seq of all `userIds` forward to `seq` in one statement. */
  markDelivered(userIds: readonly string[], seq: number): void {
    this.memberCache = null;
    if (userIds.length === 0) return;
    this.sql.exec(
      "UPDATE members SET delivered_seq = ? WHERE delivered_seq < ? AND user_id IN (SELECT value FROM json_each(?))",
      seq,
      seq,
      JSON.stringify(userIds),
    );
  }

  /** Moves read_seq forward only, clamped to the last seq; the new value, or null when it did not move. */
  markRead(userId: string, seq: number, lastSeq: number): number | null {
    this.memberCache = null;
    const to = Math.min(seq, lastSeq);
    const res = this.sql
      .exec<{ read_seq: number }>(
        "UPDATE members SET read_seq = ? WHERE user_id = ? AND read_seq < ? RETURNING read_seq",
        to,
        userId,
        to,
      )
      .toArray();
    return res[0]?.read_seq ?? null;
  }

  // ---- messages ----
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
      this.sql.exec("INSERT INTO outbox (kind, seq, created_at, next_at) VALUES ('message', ?, ?, ?)", seq, ms, ms);
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
    if (seq !== lastSeq) this.setMeta({ last_seq: seq, last_activity: now });
    return { results, lastSeq: seq };
  }

  /** The newest messages after `afterSeq` (at most `max`), oldest first, and whether older ones were left out. */
  replay(roomId: string, afterSeq: number, max: number): { messages: Message[]; hasMore: boolean } {
    const rows = this.sql
      .exec("SELECT * FROM messages WHERE seq > ? ORDER BY seq DESC LIMIT ?", afterSeq, max + 1)
      .toArray();
    const hasMore = rows.length > max;
    return {
      messages: rows
        .slice(0, max)
        .reverse()
        .map((r) => toMessage(roomId, r)),
      hasMore,
    };
  }

  /** A history page within the hot tail: newest first before a seq (or from the end), oldest first after one. */
  page(
    roomId: string,
    floorSeq: number,
    q: { before_seq?: number; after_seq?: number; limit: number },
  ): { messages: Message[]; has_more: boolean } {
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

  // ---- outbox ----
  addOutbox(kind: "read" | "push", payload: unknown, now: number, seq: number | null = null): void {
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

  settleOutbox(ids: readonly number[]): void {
    if (ids.length)
      this.sql.exec("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  /** A failed flush: the head waits until `nextAt` (the whole outbox keeps its order behind it). */
  deferOutbox(ids: readonly number[], nextAt: number): void {
    if (ids.length)
      this.sql.exec(
        "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id IN (SELECT value FROM json_each(?))",
        nextAt,
        JSON.stringify(ids),
      );
  }

  /** A batch the sink refused as malformed: kept aside (not retried, not lost) for an operator. */
  parkOutbox(ids: readonly number[]): void {
    if (ids.length)
      this.sql.exec(
        "UPDATE outbox SET kind = 'refused_' || kind WHERE id IN (SELECT value FROM json_each(?))",
        JSON.stringify(ids),
      );
  }

  outboxCounts(): Record<string, number> {
    const rows = this.sql
      .exec<{ kind: string; n: number }>("SELECT kind, count(*) AS n FROM outbox GROUP BY kind")
      .toArray();
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }

  // ---- tickets ----
  /** Records a ticket's use; false when it was used before. */
  useTicket(id: string, expiresAt: number): boolean {
    return recordTicketUse(this.sql, id, expiresAt);
  }

  // ---- upkeep ----
  /**
   * Drops what has outlived its purpose: expired tickets, dedupe keys past their window, push
   * requests nobody took, messages past retention, and the hot tail beyond its bounds, but never
   * a message the outbox still has to hand on (unless retention says it must go).
   */
  prune(
    now: number,
    c: {
      dedupeMs: number;
      retentionMs: number;
      hotTailMaxMessages: number;
      hotTailMaxAgeMs: number;
      pushOutboxTtlMs: number;
    },
  ): { messages: number } {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
    this.sql.exec("DELETE FROM dedupe WHERE created_at < ?", now - c.dedupeMs);
    this.sql.exec("DELETE FROM outbox WHERE kind = 'push' AND created_at < ?", now - c.pushOutboxTtlMs);
    // a message exactly as old as the retention period is past it (the alarm fires at that instant)
    let removed = this.sql.exec("DELETE FROM messages WHERE created_at <= ?", now - c.retentionMs).rowsWritten;
    this.sql.exec("DELETE FROM outbox WHERE kind = 'message' AND created_at <= ?", now - c.retentionMs);
    const pendingFrom =
      this.sql
        .exec<{ s: number | null }>("SELECT min(seq) AS s FROM outbox WHERE kind IN ('message', 'refused_message')")
        .one().s ?? Number.MAX_SAFE_INTEGER;
    const maxSeq = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
    const byCount = maxSeq - c.hotTailMaxMessages; // seqs at or below this are beyond the count bound
    removed += this.sql.exec(
      "DELETE FROM messages WHERE seq < ? AND (seq <= ? OR created_at < ?)",
      pendingFrom,
      byCount,
      now - c.hotTailMaxAgeMs,
    ).rowsWritten;
    return { messages: removed };
  }

  oldestMessageAt(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(created_at) AS t FROM messages").one().t;
  }
}
