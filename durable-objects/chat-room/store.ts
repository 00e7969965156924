// The ChatRoom's storage. Synchronous (the object's SQLite runs in-process), so a caller can wrap
// several calls in one transactionSync. This module holds the room's meta, members, blocks and
// tickets; `messages` and `outbox` hold the rest, over the same tables.
import type { RoomSnapshot } from "../../protocol/index.js";
import type { MembershipPlan, MemberState } from "./members.js";
import { recordTicketUse } from "../shared/used-tickets.js";
import { MessageStore } from "./message-store.js";
import { OutboxStore } from "./outbox-store.js";
import { RoomTables } from "./schema.js";

export type { PendingSend, SendResult } from "./message-store.js";

type Row = Record<string, SqlStorageValue>;

export interface RoomMeta {
  room_id: string;
  type: "direct" | "group";
  version: number;
  active: boolean;
  last_seq: number;
  /** epoch ms of the last thing that happened here (message, join, socket) */
  last_activity: number;
  /** the group's name as the last snapshot (or rename) said; null: a direct room, or not told yet */
  name?: string | null;
}

function toMember(r: Row): MemberState {
  return {
    user_id: r.user_id as string,
    role: r.role as string,
    can_send: r.can_send === 1,
    ...(r.can_mention_all === null || r.can_mention_all === undefined
      ? {}
      : { can_mention_all: r.can_mention_all === 1 }),
    ...(r.can_delete_any === null || r.can_delete_any === undefined ? {} : { can_delete_any: r.can_delete_any === 1 }),
    joined_at: r.joined_at as string,
    joined_seq: r.joined_seq as number,
    read_seq: r.read_seq as number,
    delivered_seq: r.delivered_seq as number,
    subscribed: r.subscribed === 1,
    hidden: r.hidden === 1,
    muted: r.muted === 1,
    pushed_seq: (r.pushed_seq as number | null) ?? 0,
  };
}
/** kv keys: "1" while the room has not learned its sequence; the seq PostgreSQL confirmed; the change cursor */
const SEQ_UNKNOWN = "seq_unknown";
const SEQ_REPORTED = "seq_reported";
const REV = "rev";

export class RoomStore {
  private readonly tables: RoomTables;
  readonly messages: MessageStore;
  readonly outbox: OutboxStore;

  constructor(raw: SqlStorage) {
    this.tables = new RoomTables(raw);
    this.outbox = new OutboxStore(this.tables);
    this.messages = new MessageStore(this.tables, this, this.outbox);
  }

  private get sql(): SqlStorage {
    return this.tables.sql;
  }

  /** After deleteAll(): the tables are gone and come back with the next write. */
  dropped(): void {
    this.tables.dropped();
    this.forget();
  }

  /**
   * Drops every in-memory copy (meta, members, blocks): after a transaction that rolled back, the
   * copies may hold writes that SQLite undid, so the next read goes to SQLite.
   */
  forget(): void {
    this.kvCache = null;
    this.metaCache = undefined;
    this.memberCache = null;
    this.memberIndex = null;
    this.blockCache = null;
  }

  // ---- meta ----
  // Read by every frame, several times over (the profile of a busy room had a third of its CPU in
  // re-reading these rows), so they are kept in memory. Every write goes through setKv or setName,
  // which keep the copy; forget() drops it after a rollback. A returned RoomMeta is never changed
  // afterwards: a write makes a new one, so a caller's `meta.last_seq` stays what it read.
  private kvCache: Map<string, string> | null = null;
  private metaCache: RoomMeta | null | undefined = undefined;

  private kvRows(): Map<string, string> | null {
    if (this.kvCache) return this.kvCache;
    if (!this.tables.exist()) return null;
    const rows = this.sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta").toArray();
    this.kvCache = new Map(rows.map((r) => [r.key, r.value]));
    return this.kvCache;
  }

  meta(): RoomMeta | null {
    if (this.metaCache !== undefined) return this.metaCache;
    const kv = this.kvRows();
    if (!kv) return null; // no tables yet: nothing to keep, the first write makes them
    const id = kv.get("room_id");
    this.metaCache = id
      ? {
          room_id: id,
          type: kv.get("type") === "direct" ? "direct" : "group",
          version: Number(kv.get("version") ?? 0),
          active: kv.get("active") !== "0",
          last_seq: Number(kv.get("last_seq") ?? 0),
          last_activity: Number(kv.get("last_activity") ?? 0),
          name: kv.get("name") ?? null,
        }
      : null;
    return this.metaCache;
  }

  /** A free-form setting of the room's own upkeep (e.g. when maintenance is next due). */
  kv(key: string): string | undefined {
    return this.kvRows()?.get(key);
  }

  setKv(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
    this.kvRows()!.set(key, value);
    this.metaCache = undefined;
  }

  setMeta(values: Partial<Record<Exclude<keyof RoomMeta, "name">, string | number | boolean>>): void {
    for (const [key, value] of Object.entries(values)) {
      this.setKv(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
    }
  }

  /** The group's name (null: none). Kept only for push notifications, so a stale one is cosmetic. */
  setName(name: string | null): void {
    if (name !== null) return this.setKv("name", name);
    this.sql.exec("DELETE FROM meta WHERE key = 'name'");
    this.kvRows()!.delete("name");
    this.metaCache = undefined;
  }

  // ---- members ----
  // Every send plans its fan-out over all members, and every frame looks its sender up: they are
  // read from SQLite once and kept. A write that changes who is here drops the copy; the offsets
  // that move with every message (read, delivered, pushed, subscribed) patch it instead, so a
  // 1,000-member room is not reloaded per message. Members in the copy are never changed in place
  // (a patch makes new ones), so a caller may hold one across a write.
  private memberCache: MemberState[] | null = null;
  private memberIndex: Map<string, MemberState> | null = null;

  /** All members; the array is shared, treat it as read-only. */
  members(): readonly MemberState[] {
    this.memberCache ??= this.sql.exec("SELECT * FROM members").toArray().map(toMember);
    return this.memberCache;
  }

  member(userId: string): MemberState | null {
    this.memberIndex ??= new Map(this.members().map((m) => [m.user_id, m]));
    return this.memberIndex.get(userId) ?? null;
  }

  private dropMembers(): void {
    this.memberCache = null;
    this.memberIndex = null;
  }

  /** Applies `change` to the cached copies of `userIds` (nothing cached: nothing to do). */
  private patchMembers(userIds: ReadonlySet<string>, change: (m: MemberState) => MemberState): void {
    if (!this.memberCache) return;
    const index = this.memberIndex;
    this.memberCache = this.memberCache.map((m) => {
      if (!userIds.has(m.user_id)) return m;
      const changed = change(m);
      index?.set(m.user_id, changed);
      return changed;
    });
  }

  memberCount(): number {
    return this.members().length;
  }

  upsertMember(m: MemberState): void {
    this.dropMembers();
    this.sql.exec(
      `INSERT INTO members (user_id, role, can_send, joined_at, joined_seq, read_seq, delivered_seq, subscribed, hidden, can_mention_all, muted, pushed_seq, can_delete_any) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, can_send = excluded.can_send, can_mention_all = excluded.can_mention_all, can_delete_any = excluded.can_delete_any, joined_at = excluded.joined_at,
         joined_seq = excluded.joined_seq, read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq, hidden = excluded.hidden, muted = excluded.muted`,
      m.user_id,
      m.role,
      m.can_send ? 1 : 0,
      m.joined_at,
      m.joined_seq,
      m.read_seq,
      m.delivered_seq,
      m.subscribed ? 1 : 0,
      m.hidden ? 1 : 0,
      m.can_mention_all === undefined ? null : m.can_mention_all ? 1 : 0,
      m.muted ? 1 : 0,
      m.pushed_seq ?? 0,
      m.can_delete_any === undefined ? null : m.can_delete_any ? 1 : 0,
    );
  }

  removeMember(userId: string): void {
    this.dropMembers();
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
    if (snapshot.name !== undefined) this.setName(snapshot.name);
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
    const changed =
      this.sql.exec("UPDATE members SET subscribed = ? WHERE user_id = ?", on ? 1 : 0, userId).rowsWritten > 0;
    if (changed) this.patchMembers(new Set([userId]), (m) => ({ ...m, subscribed: on }));
    return changed;
  }

  subscribedCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members WHERE subscribed = 1").one().n;
  }

  /** Members whose read_seq moved past PostgreSQL's copy (room-report.ts). */
  uncopiedReads(): Array<{ user_id: string; read_seq: number }> {
    return this.sql
      .exec<{ user_id: string; read_seq: number }>(
        "SELECT user_id, read_seq FROM members WHERE read_seq > copied_read_seq",
      )
      .toArray();
  }

  /** PostgreSQL holds these offsets now (never moves the copy mark back). */
  readsCopied(rows: ReadonlyArray<{ user_id: string; read_seq: number }>): void {
    if (rows.length === 0) return;
    this.sql.exec(
      `UPDATE members SET copied_read_seq = v.read_seq
       FROM (SELECT json_extract(value, '$.user_id') AS user_id, json_extract(value, '$.read_seq') AS read_seq FROM json_each(?)) AS v
       WHERE members.user_id = v.user_id AND members.copied_read_seq < v.read_seq`,
      JSON.stringify(rows),
    );
  }

  /** Moves delivered_seq of all `userIds` forward to `seq` in one statement. */
  markDelivered(userIds: readonly string[], seq: number): void {
    if (userIds.length === 0) return;
    this.sql.exec(
      "UPDATE members SET delivered_seq = ? WHERE delivered_seq < ? AND user_id IN (SELECT value FROM json_each(?))",
      seq,
      seq,
      JSON.stringify(userIds),
    );
    this.patchMembers(new Set(userIds), (m) => (m.delivered_seq < seq ? { ...m, delivered_seq: seq } : m));
  }

  /** `userIds` were handed to the relay for messages up to `seq`: a later batch leaves them out of those. */
  markPushed(userIds: readonly string[], seq: number): void {
    if (userIds.length === 0) return;
    this.sql.exec(
      "UPDATE members SET pushed_seq = ? WHERE pushed_seq < ? AND user_id IN (SELECT value FROM json_each(?))",
      seq,
      seq,
      JSON.stringify(userIds),
    );
    this.patchMembers(new Set(userIds), (m) => ((m.pushed_seq ?? 0) < seq ? { ...m, pushed_seq: seq } : m));
  }

  /** Moves read_seq forward only, clamped to the last seq; the new value, or null when it did not move. */
  markRead(userId: string, seq: number, lastSeq: number): number | null {
    const to = Math.min(seq, lastSeq);
    const res = this.sql
      .exec<{ read_seq: number }>(
        "UPDATE members SET read_seq = ? WHERE user_id = ? AND read_seq < ? RETURNING read_seq",
        to,
        userId,
        to,
      )
      .toArray();
    const read = res[0]?.read_seq ?? null;
    if (read !== null) this.patchMembers(new Set([userId]), (m) => ({ ...m, read_seq: read }));
    return read;
  }

  // ---- sequence (recovery.ts, room-report.ts) ----
  /** whether the room started without storage and has not learned where its sequence stands */
  seqUnknown(): boolean {
    return this.kv(SEQ_UNKNOWN) === "1";
  }
  markSeqUnknown(): void {
    this.setKv(SEQ_UNKNOWN, "1");
  }
  /** the highest seq PostgreSQL confirmed holding */
  seqReported(): number {
    return Number(this.kv(SEQ_REPORTED) ?? 0);
  }
  setSeqReported(seq: number): void {
    this.setKv(SEQ_REPORTED, String(seq));
  }

  /**
   * What a recovery learned, inside the caller's transaction: the sequence continues after
   * `lastSeq`, read offsets come back, and a later joiner's history starts at their recorded
   * floor, or at the recovered seq when it was never recorded (older history stays out of reach
   * rather than open to someone who joined after it).
   */
  restoreSequence(
    lastSeq: number,
    readOffsets: ReadonlyMap<string, number>,
    reported: number,
    joinedFrom: ReadonlyMap<string, number | null>,
  ): void {
    const to = Math.max(lastSeq, this.meta()?.last_seq ?? 0);
    this.setMeta({ last_seq: to });
    for (const [userId, from] of joinedFrom) if (this.member(userId)) this.raiseJoinedSeq(userId, from ?? to);
    for (const [userId, seq] of readOffsets) {
      if (!this.member(userId)) continue;
      const read = this.markRead(userId, seq, to);
      if (read !== null) this.markDelivered([userId], read);
    }
    this.setSeqReported(Math.max(reported, this.seqReported()));
    this.setKv(SEQ_UNKNOWN, "0");
  }

  /** After a recovery: the member's history starts no earlier than `seq`, and nothing before it is unread. */
  private raiseJoinedSeq(userId: string, seq: number): void {
    this.dropMembers();
    this.sql.exec(
      "UPDATE members SET joined_seq = max(joined_seq, ?1), read_seq = max(read_seq, ?1), delivered_seq = max(delivered_seq, ?1) WHERE user_id = ?2",
      seq,
      userId,
    );
  }

  // ---- changes (message-changes.ts) ----
  /** the room's change cursor: the rev of its latest edit or delete (0: none yet) */
  rev(): number {
    return Number(this.kv(REV) ?? 0);
  }
  setRev(rev: number): void {
    this.setKv(REV, String(rev));
  }

  // ---- tickets ----
  /** Records a ticket's use; false when it was used before. */
  useTicket(id: string, expiresAt: number): boolean {
    return recordTicketUse(this.sql, id, expiresAt);
  }
}
