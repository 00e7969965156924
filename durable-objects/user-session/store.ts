// The UserSession's storage: its user, the per-room cache behind GET /v1/rooms, who watches this
// user's presence, and whom each of its devices watches.
import type { Message, RoomSummary } from "../../protocol/index.js";
import { USED_TICKETS_TABLE, recordTicketUse } from "../shared/used-tickets.js";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS room_cache (room_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, read_seq INTEGER NOT NULL, last_message TEXT) WITHOUT ROWID`,
  // rooms subscribed to while online: their cached summaries are kept current by activity
  `CREATE TABLE IF NOT EXISTS subscribed (room_id TEXT PRIMARY KEY) WITHOUT ROWID`,
  // sessions of other users that asked to hear this user's presence changes
  `CREATE TABLE IF NOT EXISTS watchers (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
  // users each of this user's devices watches
  `CREATE TABLE IF NOT EXISTS watching (device_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (device_id, user_id)) WITHOUT ROWID`,
  USED_TICKETS_TABLE,
];

export class SessionStore {
  private created = false;

  // Tables are made on first use, not in the constructor: a room event for a user who is not
  // online must not leave a database behind in every member's object (1,000 of them for a group).
  // `retentionMs`: a cached last message older than this is never served, and is dropped.
  constructor(
    private readonly storage: SqlStorage,
    private readonly retentionMs: number = Infinity,
    private readonly clock: () => number = Date.now,
    /** a message was cached that expires at `at`: the object's alarm must come by then */
    private readonly expiresAt: (at: number) => void = () => {},
  ) {}

  private cachedMessage(m: Message | null): string | null {
    if (!m) return null;
    if (Number.isFinite(this.retentionMs)) this.expiresAt(Date.parse(m.created_at) + this.retentionMs);
    return JSON.stringify(m);
  }

  /** Whether this object has its tables (reads nothing into existence). */
  private exists(): boolean {
    if (this.created) return true;
    return (
      this.storage
        .exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'room_cache'")
        .one().n > 0
    );
  }

  /** A cached message still within retention, else null. */
  private live(raw: SqlStorageValue | undefined): Message | null {
    if (!raw) return null;
    const m = JSON.parse(raw as string) as Message;
    return Date.parse(m.created_at) > this.clock() - this.retentionMs ? m : null;
  }

  private get sql(): SqlStorage {
    if (!this.created) {
      for (const stmt of SCHEMA) this.storage.exec(stmt);
      this.created = true;
    }
    return this.storage;
  }

  get(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  set(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  useTicket(id: string, expiresAt: number): boolean {
    return recordTicketUse(this.sql, id, expiresAt);
  }

  // ---- room cache ----
  cached(roomIds?: readonly string[]): Map<string, RoomSummary> {
    const rows = roomIds
      ? this.sql
          .exec("SELECT * FROM room_cache WHERE room_id IN (SELECT value FROM json_each(?))", JSON.stringify(roomIds))
          .toArray()
      : this.sql.exec("SELECT * FROM room_cache").toArray();
    return new Map(
      rows.map((r) => [
        r.room_id as string,
        {
          room_id: r.room_id as string,
          last_seq: r.last_seq as number,
          read_seq: r.read_seq as number,
          last_message: this.live(r.last_message),
        },
      ]),
    );
  }

  cachedRoomIds(): string[] {
    return this.sql
      .exec<{ room_id: string }>("SELECT room_id FROM room_cache")
      .toArray()
      .map((r) => r.room_id);
  }

  /** Stores a room's summary; offsets only move forward, so a late answer cannot undo a newer one. */
  putSummary(s: RoomSummary): RoomSummary {
    const row = this.sql
      .exec<{ last_seq: number; read_seq: number; last_message: string | null }>(
        `INSERT INTO room_cache (room_id, last_seq, read_seq, last_message) VALUES (?, ?, ?, ?)
         ON CONFLICT (room_id) DO UPDATE SET
           last_message = CASE WHEN excluded.last_seq >= room_cache.last_seq THEN excluded.last_message ELSE room_cache.last_message END,
           last_seq = max(room_cache.last_seq, excluded.last_seq),
           read_seq = max(room_cache.read_seq, excluded.read_seq)
         RETURNING last_seq, read_seq, last_message`,
        s.room_id,
        s.last_seq,
        s.read_seq,
        this.cachedMessage(s.last_message),
      )
      .one();
    return {
      room_id: s.room_id,
      last_seq: row.last_seq,
      read_seq: row.read_seq,
      last_message: this.live(row.last_message ?? undefined),
    };
  }

  // ---- retention ----
  // The cache's last messages are copies of room messages: they leave when the room's do, at
  // retention (an alarm at the oldest one's expiry, also for a user who never comes back).

  /** When the oldest cached last message passes retention (null: none cached). */
  retentionDueAt(): number | null {
    if (!this.exists() || !Number.isFinite(this.retentionMs)) return null;
    const oldest = this.sql
      .exec<{ t: string | null }>(
        "SELECT min(json_extract(last_message, '$.created_at')) AS t FROM room_cache WHERE last_message IS NOT NULL",
      )
      .one().t;
    return oldest === null ? null : Date.parse(oldest) + this.retentionMs;
  }

  /** Drops every cached last message past retention; how many. */
  pruneExpired(now: number): number {
    if (!this.exists()) return 0;
    // created_at is always toISOString() (same length, UTC): text order is time order
    const cutoff = new Date(now - this.retentionMs).toISOString();
    return this.sql.exec(
      "UPDATE room_cache SET last_message = NULL WHERE last_message IS NOT NULL AND json_extract(last_message, '$.created_at') <= ?",
      cutoff,
    ).rowsWritten;
  }

  /** A fresh answer from the room itself replaces what was cached (the member may have rejoined). */
  replaceSummary(s: RoomSummary): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO room_cache (room_id, last_seq, read_seq, last_message) VALUES (?, ?, ?, ?)",
      s.room_id,
      s.last_seq,
      s.read_seq,
      this.cachedMessage(s.last_message),
    );
  }

  dropRoom(roomId: string): void {
    this.sql.exec("DELETE FROM room_cache WHERE room_id = ?", roomId);
    this.sql.exec("DELETE FROM subscribed WHERE room_id = ?", roomId);
  }

  // ---- subscriptions ----
  markSubscribed(roomId: string): void {
    this.sql.exec("INSERT OR IGNORE INTO subscribed (room_id) VALUES (?)", roomId);
  }

  subscribedRoomIds(): string[] {
    return this.sql
      .exec<{ room_id: string }>("SELECT room_id FROM subscribed")
      .toArray()
      .map((r) => r.room_id);
  }

  clearSubscribed(): void {
    this.sql.exec("DELETE FROM subscribed");
  }

  // ---- presence ----
  addWatcher(userId: string, now: number): void {
    this.sql.exec(
      "INSERT INTO watchers (user_id, at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET at = excluded.at",
      userId,
      now,
    );
  }

  watchers(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM watchers")
      .toArray()
      .map((r) => r.user_id);
  }

  removeWatchers(ids: readonly string[]): void {
    if (ids.length)
      this.sql.exec("DELETE FROM watchers WHERE user_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  setWatching(deviceId: string, userIds: readonly string[]): void {
    this.sql.exec("DELETE FROM watching WHERE device_id = ?", deviceId);
    for (const u of userIds)
      this.sql.exec("INSERT OR IGNORE INTO watching (device_id, user_id) VALUES (?, ?)", deviceId, u);
  }

  devicesWatching(userId: string): string[] {
    return this.sql
      .exec<{ device_id: string }>("SELECT device_id FROM watching WHERE user_id = ?", userId)
      .toArray()
      .map((r) => r.device_id);
  }

  /** Every user some device of this user watches. */
  watchedUsers(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT DISTINCT user_id FROM watching")
      .toArray()
      .map((r) => r.user_id);
  }

  /** No device watches these users any more. */
  unwatchUsers(ids: readonly string[]): void {
    if (ids.length)
      this.sql.exec("DELETE FROM watching WHERE user_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  clearWatching(deviceId?: string): void {
    if (deviceId === undefined) this.sql.exec("DELETE FROM watching");
    else this.sql.exec("DELETE FROM watching WHERE device_id = ?", deviceId);
  }
}
