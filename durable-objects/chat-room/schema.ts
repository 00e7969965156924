// The ChatRoom's SQLite tables. Each statement is idempotent, so the object runs them on every
// start; a later change adds statements, never edits these.
import { USED_TICKETS_TABLE } from "../shared/used-tickets.js";

export const ROOM_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS members (
     user_id TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     can_send INTEGER NOT NULL,
     joined_at TEXT NOT NULL,
     joined_seq INTEGER NOT NULL,
     read_seq INTEGER NOT NULL,
     delivered_seq INTEGER NOT NULL,
     subscribed INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (blocker, blocked)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS messages (
     seq INTEGER PRIMARY KEY,
     message_id TEXT NOT NULL,
     sender_id TEXT NOT NULL,
     client_message_id TEXT NOT NULL,
     body TEXT NOT NULL,
     mentions TEXT NOT NULL,
     mention_all INTEGER NOT NULL,
     reply_to_seq INTEGER,
     attachments TEXT,
     created_at INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS messages_created_at ON messages (created_at)`,
  `CREATE TABLE IF NOT EXISTS dedupe (
     sender_id TEXT NOT NULL,
     client_message_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     message_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (sender_id, client_message_id)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS dedupe_created_at ON dedupe (created_at)`,
  // kind: 'message' (seq to archive), 'read' (an offset to copy), 'push' (a seq to push), 'push_read'
  // (a read offset for the relay); 'refused_<kind>': a batch the sink or the relay refused as malformed
  `CREATE TABLE IF NOT EXISTS outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     seq INTEGER,
     payload TEXT,
     created_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS outbox_kind_seq ON outbox (kind, seq)`,
  // the push part is read by id behind an archive backlog of any length
  `CREATE INDEX IF NOT EXISTS outbox_kind_id ON outbox (kind, id)`,
  USED_TICKETS_TABLE,
  // edits and deletes applied, by the client's op_id: a retried op answers its first op_ack (kept
  // as long as the send dedupe keys)
  `CREATE TABLE IF NOT EXISTS op_dedupe (
     user_id TEXT NOT NULL,
     op_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     rev INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, op_id)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS op_dedupe_created_at ON op_dedupe (created_at)`,
];

/** Columns added to a table after it was first made (ALTER TABLE is not idempotent: added when missing). */
export const ADDED_COLUMNS: ReadonlyArray<readonly [table: string, column: string, definition: string]> = [
  ["members", "hidden", "INTEGER NOT NULL DEFAULT 0"],
  // null: a member stored before the permission existed (decided by role until the next sync)
  ["members", "can_mention_all", "INTEGER"],
  ["members", "muted", "INTEGER NOT NULL DEFAULT 0"],
  // the newest seq a push batch carried for the member (push-audience.ts): nobody is pushed twice
  ["members", "pushed_seq", "INTEGER NOT NULL DEFAULT 0"],
  // null: a member stored before the permission existed (decided by role until the next sync)
  ["members", "can_delete_any", "INTEGER"],
  // the read_seq PostgreSQL was last given (room-report.ts reports what moved past it, once a window)
  ["members", "copied_read_seq", "INTEGER NOT NULL DEFAULT 0"],
  // edits and deletes (message-changes.ts): null while a message is as sent; rev is the room's
  // change cursor (meta 'rev') at its latest change, updated_at that change's time (epoch ms)
  ["messages", "status", "TEXT"],
  ["messages", "updated_at", "INTEGER"],
  ["messages", "rev", "INTEGER"],
];

/** Statements over added columns, run after them (each idempotent). */
export const LATE_SCHEMA = [
  // a stream resuming from after_rev reads the changes after it, newest first (replay.ts)
  `CREATE INDEX IF NOT EXISTS messages_rev ON messages (rev) WHERE rev IS NOT NULL`,
];

/**
 * The room's tables, made on the first write, not when the object starts: asking an object for a
 * room that does not exist (a random id in a URL) must not leave storage behind.
 */
export class RoomTables {
  private created = false;

  constructor(private readonly raw: SqlStorage) {}

  get sql(): SqlStorage {
    if (!this.created) this.create();
    return this.raw;
  }

  private create(): void {
    for (const stmt of ROOM_SCHEMA) this.raw.exec(stmt);
    for (const [table, column, definition] of ADDED_COLUMNS) {
      const has = this.raw
        .exec<{ n: number }>(`SELECT count(*) AS n FROM pragma_table_info('${table}') WHERE name = ?`, column)
        .one().n;
      if (!has) this.raw.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
    for (const stmt of LATE_SCHEMA) this.raw.exec(stmt);
    this.created = true;
  }

  /** Whether this object holds a room at all (reads nothing into existence). */
  exist(): boolean {
    if (this.created) return true;
    const n = this.raw
      .exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
      .one().n;
    if (n > 0) this.create(); // runs statements added since the tables were made
    return n > 0;
  }

  /** After deleteAll(): the tables are gone and come back with the next write. */
  dropped(): void {
    this.created = false;
  }
}
