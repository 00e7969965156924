// The embedded archive: one SQLite file, so `npm start` needs no Cassandra. Same contract as the
// Cassandra store: idempotent upserts where a newer version wins, read offsets that never move
// back, and retention of created_at + retention. Rows past retention are hidden from reads at once
// (like a Cassandra TTL) and deleted by a periodic purge, also run at start.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type {
  ArchiveBatch,
  ArchiveHistoryPage,
  ArchiveHistoryQuery,
  ArchiveOffsets,
  ArchiveWriteResult,
} from "../protocol/index.js";
import type { SqliteStoreConfig } from "./config.js";
import { highestSeqs, pageBounds, remainingTtlSeconds, toHistoryMessage, type ArchiveStore } from "./store.js";

const SCHEMA_VERSION = 2;
const PURGE_CHUNK = 5000;

interface MessageRow {
  room_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  client_message_id: string;
  body: string;
  mentions: string;
  mention_all: number;
  reply_to_seq: number | null;
  attachments: string;
  status: "active" | "edited" | "deleted";
  created_at: number;
  updated_at: number;
}

export interface SqliteStoreOptions extends Omit<SqliteStoreConfig, "kind"> {
  retentionSeconds: number;
  log?: (line: string) => void;
}

export class SqliteArchiveStore implements ArchiveStore {
  readonly kind = "sqlite" as const;
  private db: Database.Database | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private stmts!: ReturnType<SqliteArchiveStore["prepare"]>;

  constructor(private readonly opts: SqliteStoreOptions) {}

  async init(): Promise<void> {
    if (this.opts.path !== ":memory:") fs.mkdirSync(path.dirname(this.opts.path), { recursive: true });
    const db = new Database(this.opts.path);
    // WAL lets history reads run beside a write; FULL syncs every commit because the outbox
    // forgets a batch once we acknowledge it.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION)
      throw new Error(`${this.opts.path} has archive schema ${version}, newer than this sink (${SCHEMA_VERSION})`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        room_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        client_message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        mentions TEXT NOT NULL,      -- JSON array of user ids
        mention_all INTEGER NOT NULL,
        reply_to_seq INTEGER,
        attachments TEXT NOT NULL,   -- JSON array; one reader, so no separate table needed here
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL, -- ms since epoch
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS messages_created_at ON messages (created_at);
      CREATE TABLE IF NOT EXISTS read_offsets (
        room_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        read_seq INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      -- one row per room, never expired: the seq a room that lost its storage must continue after
      CREATE TABLE IF NOT EXISTS room_seqs (
        room_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    // a version-1 file has messages but no room_seqs yet: what it still holds is the best floor
    if (version < 2)
      db.exec(
        `INSERT OR IGNORE INTO room_seqs (room_id, last_seq) SELECT room_id, max(seq) FROM messages GROUP BY room_id`,
      );
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.db = db;
    this.stmts = this.prepare(db);
    this.purge();
    this.purgeTimer = setInterval(() => {
      try {
        this.purge();
      } catch (err) {
        this.opts.log?.(`purge failed: ${(err as Error).message}`);
      }
    }, this.opts.purgeIntervalMs);
    this.purgeTimer.unref();
  }

  private prepare(db: Database.Database) {
    return {
      // A newer version (by updated_at) replaces an older one; an equal one rewrites the same
      // values, so a repeated batch leaves the same row.
      upsertMessage: db.prepare(`
        INSERT INTO messages (room_id, seq, message_id, sender_id, client_message_id, body, mentions, mention_all, reply_to_seq, attachments, status, created_at, updated_at)
        VALUES (@room_id, @seq, @message_id, @sender_id, @client_message_id, @body, @mentions, @mention_all, @reply_to_seq, @attachments, @status, @created_at, @updated_at)
        ON CONFLICT (room_id, seq) DO UPDATE SET
          message_id = excluded.message_id, sender_id = excluded.sender_id, client_message_id = excluded.client_message_id,
          body = excluded.body, mentions = excluded.mentions, mention_all = excluded.mention_all, reply_to_seq = excluded.reply_to_seq,
          attachments = excluded.attachments, status = excluded.status, created_at = excluded.created_at, updated_at = excluded.updated_at
        WHERE excluded.updated_at >= messages.updated_at`),
      // Cassandra resolves equal timestamps by the larger value; do the same so both stores agree.
      upsertOffset: db.prepare(`
        INSERT INTO read_offsets (room_id, user_id, read_seq, updated_at) VALUES (@room_id, @user_id, @read_seq, @updated_at)
        ON CONFLICT (room_id, user_id) DO UPDATE SET read_seq = excluded.read_seq, updated_at = excluded.updated_at
        WHERE excluded.updated_at > read_offsets.updated_at
           OR (excluded.updated_at = read_offsets.updated_at AND excluded.read_seq > read_offsets.read_seq)`),
      raiseLastSeq: db.prepare(`
        INSERT INTO room_seqs (room_id, last_seq) VALUES (?, ?)
        ON CONFLICT (room_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`),
      lastSeq: db.prepare<[string], { last_seq: number }>(`SELECT last_seq FROM room_seqs WHERE room_id = ?`),
      pageDesc: db.prepare<[string, number, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE room_id = ? AND seq > ? AND seq < ? AND created_at > ? ORDER BY seq DESC LIMIT ?`,
      ),
      pageAsc: db.prepare<[string, number, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE room_id = ? AND seq > ? AND seq < ? AND created_at > ? ORDER BY seq ASC LIMIT ?`,
      ),
      offsets: db.prepare<[string], { user_id: string; read_seq: number; updated_at: number }>(
        `SELECT user_id, read_seq, updated_at FROM read_offsets WHERE room_id = ? ORDER BY user_id`,
      ),
      purgeChunk: db.prepare(
        `DELETE FROM messages WHERE (room_id, seq) IN (SELECT room_id, seq FROM messages WHERE created_at <= ? LIMIT ${PURGE_CHUNK})`,
      ),
      ping: db.prepare(`SELECT 1`),
    };
  }

  private get handle(): Database.Database {
    if (!this.db) throw new Error("archive store is not open");
    return this.db;
  }

  private cutoff(nowMs: number) {
    return nowMs - this.opts.retentionSeconds * 1000;
  }

  async writeBatch(batch: ArchiveBatch, nowMs = Date.now()): Promise<ArchiveWriteResult> {
    const db = this.handle;
    let expired = 0;
    // one transaction, one fsync: the batch is stored whole or not at all
    db.transaction(() => {
      for (const m of batch.messages) {
        const createdAt = Date.parse(m.created_at);
        if (remainingTtlSeconds(createdAt, nowMs, this.opts.retentionSeconds) <= 0) {
          expired++;
          continue;
        }
        const deleted = m.status === "deleted";
        this.stmts.upsertMessage.run({
          room_id: m.room_id,
          seq: m.seq,
          message_id: m.message_id,
          sender_id: m.sender_id,
          client_message_id: m.client_message_id,
          // a deleted message's content is not kept, only its place in the sequence
          body: deleted ? "" : m.body,
          mentions: JSON.stringify(deleted ? [] : m.mentions),
          mention_all: !deleted && m.mention_all ? 1 : 0,
          reply_to_seq: m.reply_to_seq ?? null,
          attachments: JSON.stringify(deleted ? [] : m.attachments),
          status: m.status,
          created_at: createdAt,
          updated_at: Date.parse(m.updated_at ?? m.created_at),
        });
      }
      for (const [room, seq] of highestSeqs(batch)) this.stmts.raiseLastSeq.run(room, seq);
      for (const o of batch.read_offsets) {
        this.stmts.upsertOffset.run({
          room_id: o.room_id,
          user_id: o.user_id,
          read_seq: o.read_seq,
          updated_at: Date.parse(o.updated_at),
        });
      }
    })();
    return { messages: batch.messages.length, read_offsets: batch.read_offsets.length, expired };
  }

  async readHistory(roomId: string, query: ArchiveHistoryQuery, nowMs = Date.now()): Promise<ArchiveHistoryPage> {
    const { lo, hi, ascending } = pageBounds(query);
    const stmt = ascending ? this.stmts.pageAsc : this.stmts.pageDesc;
    const rows = stmt.all(roomId, lo, hi, this.cutoff(nowMs), query.limit + 1);
    const page = rows.slice(0, query.limit).map((r) =>
      toHistoryMessage({
        room_id: r.room_id,
        seq: r.seq,
        message_id: r.message_id,
        sender_id: r.sender_id,
        client_message_id: r.client_message_id,
        body: r.body,
        mentions: JSON.parse(r.mentions) as string[],
        mention_all: r.mention_all === 1,
        reply_to_seq: r.reply_to_seq,
        attachments: JSON.parse(r.attachments) as [],
        status: r.status,
        created_at: new Date(r.created_at).toISOString(),
        updated_at: r.updated_at === r.created_at ? null : new Date(r.updated_at).toISOString(),
      }),
    );
    return { messages: page, has_more: rows.length > query.limit };
  }

  async readOffsets(roomId: string): Promise<ArchiveOffsets> {
    return {
      offsets: this.stmts.offsets
        .all(roomId)
        .map((r) => ({ user_id: r.user_id, read_seq: r.read_seq, updated_at: new Date(r.updated_at).toISOString() })),
    };
  }

  async lastSeq(roomId: string): Promise<number> {
    return this.stmts.lastSeq.get(roomId)?.last_seq ?? 0;
  }

  /** Deletes messages past retention in small transactions, so writes are never held up for long. Returns how many. */
  purge(nowMs = Date.now()): number {
    const cutoff = this.cutoff(nowMs);
    let total = 0;
    for (;;) {
      const { changes } = this.stmts.purgeChunk.run(cutoff);
      total += changes;
      if (changes < PURGE_CHUNK) break;
    }
    if (total) this.opts.log?.(`purged ${total} messages past retention`);
    return total;
  }

  /** rows physically present (expired or not), for tests of the purge */
  countStoredMessages(): number {
    return (this.handle.prepare(`SELECT count(*) AS n FROM messages`).get() as { n: number }).n;
  }

  async ping(): Promise<void> {
    this.stmts.ping.get();
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.purgeTimer = undefined;
    this.db?.close();
    this.db = undefined;
  }
}
