// The production archive: Apache Cassandra through cassandra-driver. Prepared statements, routed
// to a replica of their partition (token-aware over DC-aware round robin), all marked idempotent so
// the driver may retry them, on another replica too: every write carries its own timestamp
// (USING TIMESTAMP), so sending it twice writes the same cells.
import cassandra from "cassandra-driver";
import type {
  ArchiveBatch,
  ArchiveHistoryPage,
  ArchiveHistoryQuery,
  ArchiveOffsets,
  ArchiveWriteResult,
} from "../protocol/index.js";
import { applySchema } from "./cassandra-schema.js";
import type { CassandraStoreConfig, ConsistencyName } from "./config.js";
import {
  highestSeqs,
  pageBounds,
  remainingTtlSeconds,
  runBounded,
  toHistoryMessage,
  type ArchiveStore,
  type StoredMessage,
} from "./store.js";

const { consistencies, unset } = cassandra.types;
const CONSISTENCY: Record<ConsistencyName, number> = {
  ONE: consistencies.one,
  TWO: consistencies.two,
  THREE: consistencies.three,
  QUORUM: consistencies.quorum,
  ALL: consistencies.all,
  LOCAL_QUORUM: consistencies.localQuorum,
  EACH_QUORUM: consistencies.eachQuorum,
  LOCAL_ONE: consistencies.localOne,
};

/** how often a sink rewrites a (room, bucket) index row that it keeps writing messages into */
const BUCKET_REFRESH_MS = 3_600_000;
const KNOWN_BUCKETS_MAX = 100_000;
/** Cassandra's cap on a TTL (20 years) */
const MAX_TTL_SECONDS = 630_720_000;
/** how many bucket numbers one room_buckets lookup returns */
const BUCKET_LIST_PAGE = 16;
type AttachmentMap = Map<number, StoredMessage["attachments"]>;
const toNumber = (v: unknown): number =>
  v === null || v === undefined ? 0 : typeof v === "number" ? v : (v as cassandra.types.Long).toNumber();
const micros = (iso: string) => Date.parse(iso) * 1000;
const statusOf = (v: unknown): StoredMessage["status"] => (v === "deleted" || v === "edited" ? v : "active");

export interface CassandraStoreOptions extends Omit<CassandraStoreConfig, "kind"> {
  retentionSeconds: number;
  log?: (line: string) => void;
  /** driver request timeout in ms (default 12 000, the driver's own) */
  readTimeoutMs?: number;
}

export class CassandraArchiveStore implements ArchiveStore {
  readonly kind = "cassandra" as const;
  readonly client: cassandra.Client;
  private readonly ks: string;
  private readonly q: ReturnType<typeof queries>;
  private readonly writeOptions: cassandra.QueryOptions;
  private readonly readOptions: cassandra.QueryOptions;
  /** (room, bucket) index rows this sink wrote lately, and when: most batches need not rewrite theirs */
  private readonly knownBuckets = new Map<string, number>();
  private readonly bucketTtl: number;

  constructor(private readonly opts: CassandraStoreOptions) {
    this.ks = opts.keyspace;
    // A bucket row must outlive every message in its bucket. Messages expire at most `retention`
    // after they are written, and the row is rewritten at least every BUCKET_REFRESH_MS while its
    // bucket receives messages, so retention plus twice that interval always covers them.
    this.bucketTtl = Math.min(MAX_TTL_SECONDS, opts.retentionSeconds + (2 * BUCKET_REFRESH_MS) / 1000);
    this.q = queries(opts.keyspace);
    const consistency = CONSISTENCY[opts.consistency];
    const { loadBalancing, reconnection } = cassandra.policies;
    this.client = new cassandra.Client({
      contactPoints: opts.contactPoints,
      localDataCenter: opts.localDataCenter,
      policies: {
        loadBalancing: new loadBalancing.TokenAwarePolicy(
          new loadBalancing.DCAwareRoundRobinPolicy(opts.localDataCenter),
        ),
        // the driver's default backs off to 10 minutes; a sink should notice a returning node within seconds
        reconnection: new reconnection.ExponentialReconnectionPolicy(250, 4000, false),
      },
      socketOptions: { connectTimeout: 5000, readTimeout: opts.readTimeoutMs ?? 12_000 },
      queryOptions: { consistency, prepare: true, isIdempotent: true },
      ...(opts.username !== undefined
        ? { authProvider: new cassandra.auth.PlainTextAuthProvider(opts.username, opts.password ?? "") }
        : {}),
    });
    this.writeOptions = { prepare: true, isIdempotent: true, consistency };
    this.readOptions = { prepare: true, isIdempotent: true, consistency };
  }

  async init(): Promise<void> {
    await this.client.connect();
    if (this.opts.migrateOnStart) await this.migrate();
  }

  /** Applies the schema (idempotent). Needs a connected client. */
  async migrate(): Promise<void> {
    await applySchema(this.client, {
      keyspace: this.ks,
      replication: this.opts.replication,
      retentionSeconds: this.opts.retentionSeconds,
      bucketSize: this.opts.bucketSize,
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
  }

  bucketOf(seq: number): number {
    return Math.floor(seq / this.opts.bucketSize);
  }

  async writeBatch(batch: ArchiveBatch, nowMs = Date.now()): Promise<ArchiveWriteResult> {
    // Statements are grouped by partition and each group is sent as one unlogged batch: rows of one
    // partition (a message and its attachments share the key (room_id, bucket); a room's bucket
    // index and read offsets share room_id) become one mutation, applied atomically on each replica
    // and routed to a replica of that partition. Cassandra exempts such single-partition batches
    // from its batch-size warnings; we still cut them at PARTITION_BATCH_BYTES.
    const groups = new PartitionGroups();
    const bucketsWritten = new Set<string>();
    let expired = 0;
    for (const m of batch.messages) {
      // TTL = what is left of the retention, so a message archived late still expires on time
      const ttl = remainingTtlSeconds(Date.parse(m.created_at), nowMs, this.opts.retentionSeconds);
      if (ttl <= 0) {
        expired++;
        continue;
      }
      const bucket = this.bucketOf(m.seq);
      const ts = micros(m.updated_at ?? m.created_at);
      const deleted = m.status === "deleted";
      const key = `m/${m.room_id}/${bucket}`;
      const body = deleted ? "" : m.body;
      // Empty and default values are left unset rather than bound: a bound null is a tombstone
      // (one per message for reply_to_seq alone, scanned by every page read) and every cell costs
      // CPU and disk. Readers map a missing cell to its default. A deleted version binds its
      // empties explicitly, so they replace what the active version had.
      const emptyOr = <T>(value: T, empty: boolean) => (!empty ? value : deleted ? null : unset);
      groups.add(key, body.length * 3 + 300, this.q.insertMessage, [
        m.room_id,
        bucket,
        m.seq,
        m.message_id,
        m.sender_id,
        m.client_message_id,
        body,
        emptyOr(m.mentions, deleted || m.mentions.length === 0),
        emptyOr(true, deleted || !m.mention_all),
        m.reply_to_seq ?? unset,
        emptyOr(m.attachments.length, deleted || m.attachments.length === 0),
        m.status === "active" ? unset : m.status, // no status cell means active
        new Date(m.created_at),
        m.updated_at && m.updated_at !== m.created_at ? new Date(m.updated_at) : unset, // none: never updated
        ttl,
        ts,
      ]);
      if (deleted) {
        groups.add(key, 100, this.q.deleteAttachments, [ts, m.room_id, bucket, m.seq]);
      } else {
        m.attachments.forEach((a, idx) =>
          groups.add(key, a.url.length + a.name.length + a.mime.length + a.id.length + 100, this.q.insertAttachment, [
            m.room_id,
            bucket,
            m.seq,
            idx,
            a.id,
            a.url,
            a.mime,
            a.size,
            a.name,
            ttl,
            ts,
          ]),
        );
      }
      const known = `${m.room_id}/${bucket}`;
      const last = this.knownBuckets.get(known);
      if ((last === undefined || nowMs - last > BUCKET_REFRESH_MS) && !bucketsWritten.has(known)) {
        bucketsWritten.add(known);
        groups.add(`r/${m.room_id}`, 50, this.q.insertBucket, [m.room_id, bucket, this.bucketTtl]);
      }
    }
    for (const [room, seq] of highestSeqs(batch)) {
      groups.add(`s/${room}`, 50, this.q.raiseLastSeq, [room, seq, seq]);
    }
    for (const o of batch.read_offsets) {
      // the write timestamp is the offset's own time: an older offset arriving late loses
      groups.add(`r/${o.room_id}`, 100, this.q.insertOffset, [
        o.room_id,
        o.user_id,
        o.read_seq,
        new Date(o.updated_at),
        micros(o.updated_at),
      ]);
    }
    const tasks = groups
      .chunks()
      .map((chunk) =>
        chunk.length === 1
          ? () => this.client.execute(chunk[0]!.query, chunk[0]!.params, this.writeOptions)
          : () => this.client.batch(chunk, { ...this.writeOptions, logged: false }),
      );
    await runBounded(tasks, this.opts.writeConcurrency);
    for (const known of bucketsWritten) {
      this.knownBuckets.delete(known); // re-insert: Map order is then oldest-written first
      this.knownBuckets.set(known, nowMs);
    }
    for (const known of this.knownBuckets.keys()) {
      if (this.knownBuckets.size <= KNOWN_BUCKETS_MAX) break;
      this.knownBuckets.delete(known);
    }
    return { messages: batch.messages.length, read_offsets: batch.read_offsets.length, expired };
  }

  async readHistory(roomId: string, query: ArchiveHistoryQuery): Promise<ArchiveHistoryPage> {
    const { lo, hi, ascending } = pageBounds(query);
    const want = query.limit + 1; // one more than the page tells whether there is more
    const rows: Array<{ row: cassandra.types.Row; bucket: number }> = [];
    const pageCql = ascending ? this.q.pageAsc : this.q.pageDesc;
    const readBucket = async (bucket: number) => {
      const rs = await this.client.execute(pageCql, [roomId, bucket, lo, hi, want - rows.length], this.readOptions);
      for (const row of rs.rows) rows.push({ row, bucket });
    };

    // Most pages name their start (before_seq or after_seq), and seqs are dense, so the page
    // usually lies in the start bucket: read it at once, and its likely attachments beside it
    // (the seq range a dense page would cover), in one round trip.
    const start = ascending
      ? this.bucketOf(lo + 1)
      : query.before_seq !== undefined
        ? this.bucketOf(hi - 1)
        : undefined;
    let guess: { bucket: number; from: number; to: number; found: Promise<AttachmentMap> } | undefined;
    if (start !== undefined) {
      const [from, to] = ascending ? [lo + 1, Math.min(hi - 1, lo + want)] : [Math.max(lo + 1, hi - want), hi - 1];
      guess = { bucket: start, from, to, found: this.readAttachments(roomId, start, from, to) };
      guess.found.catch(() => {}); // awaited below; never an unhandled rejection if the page read fails first
      await readBucket(start);
    }

    // The rest through the room's bucket index, which skips buckets that never existed or expired.
    let first = this.bucketOf(lo + 1);
    let last = this.bucketOf(hi - 1);
    if (start !== undefined) {
      if (ascending) first = start + 1;
      else last = start - 1;
    }
    const listCql = ascending ? this.q.listBucketsAsc : this.q.listBucketsDesc;
    outer: while (rows.length < want && first <= last) {
      const listed = (
        await this.client.execute(listCql, [roomId, first, last, BUCKET_LIST_PAGE], this.readOptions)
      ).rows.map((r) => toNumber(r.get("bucket")));
      for (const bucket of listed) {
        await readBucket(bucket);
        if (rows.length >= want) break outer;
      }
      if (listed.length < BUCKET_LIST_PAGE) break;
      const edge = listed[listed.length - 1]!;
      if (ascending) first = edge + 1;
      else last = edge - 1;
    }

    const page = rows.slice(0, query.limit);
    // attachments: per bucket, the seq range of the page's messages that have any
    const needed = new Map<number, { from: number; to: number }>();
    for (const { row, bucket } of page) {
      if (!row.get("attachment_count") || row.get("status") === "deleted") continue;
      const seq = toNumber(row.get("seq"));
      const r = needed.get(bucket);
      needed.set(bucket, r ? { from: Math.min(r.from, seq), to: Math.max(r.to, seq) } : { from: seq, to: seq });
    }
    const attachments: AttachmentMap = new Map();
    await Promise.all(
      [...needed].map(async ([bucket, r]) => {
        const covered = guess && guess.bucket === bucket && guess.from <= r.from && r.to <= guess.to;
        const found = covered ? await guess!.found : await this.readAttachments(roomId, bucket, r.from, r.to);
        for (const [seq, list] of found) attachments.set(seq, list);
      }),
    );

    const messages = page.map(({ row: r }) => {
      const seq = toNumber(r.get("seq"));
      const m: StoredMessage = {
        room_id: roomId,
        seq,
        message_id: String(r.get("message_id")),
        sender_id: String(r.get("sender_id")),
        client_message_id: r.get("client_message_id") as string,
        body: (r.get("body") as string | null) ?? "",
        mentions: ((r.get("mentioned_user_ids") as cassandra.types.Uuid[] | null) ?? []).map(String),
        mention_all: r.get("mention_all") === true,
        reply_to_seq: r.get("reply_to_seq") === null ? null : toNumber(r.get("reply_to_seq")),
        attachments: attachments.get(seq) ?? [],
        status: statusOf(r.get("status")),
        created_at: (r.get("created_at") as Date).toISOString(),
        updated_at: (r.get("updated_at") as Date | null)?.toISOString() ?? null,
      };
      return toHistoryMessage(m);
    });
    return { messages, has_more: rows.length > query.limit };
  }

  /** attachments of the messages with seq in [from, to] of one bucket, by seq, in index order */
  private async readAttachments(roomId: string, bucket: number, from: number, to: number): Promise<AttachmentMap> {
    const rs = await this.client.execute(this.q.attachments, [roomId, bucket, from, to], {
      ...this.readOptions,
      fetchSize: 5000,
    });
    const out: AttachmentMap = new Map();
    for (const r of rs.rows) {
      const seq = toNumber(r.get("seq"));
      const list = out.get(seq) ?? [];
      list[r.get("idx") as number] = {
        id: r.get("attachment_id") as string,
        url: r.get("url") as string,
        mime: r.get("mime") as string,
        size: toNumber(r.get("size")),
        name: r.get("name") as string,
      };
      out.set(seq, list);
    }
    // an index missing from a half-expired write would leave a hole; keep only what is there
    for (const [seq, list] of out) out.set(seq, list.filter(Boolean));
    return out;
  }

  async readOffsets(roomId: string): Promise<ArchiveOffsets> {
    // a room has at most 1,000 members, so one page of 5,000 holds them all
    const rs = await this.client.execute(this.q.offsets, [roomId], { ...this.readOptions, fetchSize: 5000 });
    return {
      offsets: rs.rows.map((r) => ({
        user_id: String(r.get("user_id")),
        read_seq: toNumber(r.get("read_seq")),
        updated_at: (r.get("updated_at") as Date).toISOString(),
      })),
    };
  }

  async lastSeq(roomId: string): Promise<number> {
    const row = (await this.client.execute(this.q.lastSeq, [roomId], this.readOptions)).first();
    return row ? toNumber(row.get("last_seq")) : 0;
  }

  async ping(): Promise<void> {
    await this.client.execute("SELECT release_version FROM system.local", [], {
      prepare: false,
      isIdempotent: true,
      consistency: consistencies.localOne,
      readTimeout: 2000,
    });
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}

/** a single-partition batch is cut at about this many bytes of values (mutations must stay far below the commit log segment) */
const PARTITION_BATCH_BYTES = 256 * 1024;
const PARTITION_BATCH_STATEMENTS = 500;

type Statement = { query: string; params: unknown[] };

/** Statements grouped by partition key, in arrival order, cut into batch-sized chunks. */
class PartitionGroups {
  private readonly groups = new Map<string, { chunks: Statement[][]; bytes: number }>();

  add(key: string, bytes: number, query: string, params: unknown[]) {
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { chunks: [[]], bytes: 0 }));
    let chunk = g.chunks[g.chunks.length - 1]!;
    if (chunk.length && (g.bytes + bytes > PARTITION_BATCH_BYTES || chunk.length >= PARTITION_BATCH_STATEMENTS)) {
      g.chunks.push((chunk = []));
      g.bytes = 0;
    }
    chunk.push({ query, params });
    g.bytes += bytes;
  }

  chunks(): Statement[][] {
    return [...this.groups.values()].flatMap((g) => g.chunks);
  }
}

function queries(ks: string) {
  const messageColumns =
    "room_id, bucket, seq, message_id, sender_id, client_message_id, body, mentioned_user_ids, mention_all, reply_to_seq, attachment_count, status, created_at, updated_at";
  const selectMessages = `SELECT seq, message_id, sender_id, client_message_id, body, mentioned_user_ids, mention_all, reply_to_seq, attachment_count, status, created_at, updated_at FROM ${ks}.messages`;
  return {
    insertMessage: `INSERT INTO ${ks}.messages (${messageColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    insertAttachment: `INSERT INTO ${ks}.message_attachments (room_id, bucket, seq, idx, attachment_id, url, mime, size, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    deleteAttachments: `DELETE FROM ${ks}.message_attachments USING TIMESTAMP ? WHERE room_id = ? AND bucket = ? AND seq = ?`,
    insertBucket: `INSERT INTO ${ks}.room_buckets (room_id, bucket) VALUES (?, ?) USING TTL ?`,
    insertOffset: `INSERT INTO ${ks}.read_offsets (room_id, user_id, read_seq, updated_at) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`,
    listBucketsDesc: `SELECT bucket FROM ${ks}.room_buckets WHERE room_id = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket DESC LIMIT ?`,
    listBucketsAsc: `SELECT bucket FROM ${ks}.room_buckets WHERE room_id = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket ASC LIMIT ?`,
    pageDesc: `${selectMessages} WHERE room_id = ? AND bucket = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    pageAsc: `${selectMessages} WHERE room_id = ? AND bucket = ? AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?`,
    attachments: `SELECT seq, idx, attachment_id, url, mime, size, name FROM ${ks}.message_attachments WHERE room_id = ? AND bucket = ? AND seq >= ? AND seq <= ?`,
    offsets: `SELECT user_id, read_seq, updated_at FROM ${ks}.read_offsets WHERE room_id = ?`,
    // USING TIMESTAMP <seq>: see room_last_seq in cassandra-schema.ts
    raiseLastSeq: `INSERT INTO ${ks}.room_last_seq (room_id, last_seq) VALUES (?, ?) USING TIMESTAMP ?`,
    lastSeq: `SELECT last_seq FROM ${ks}.room_last_seq WHERE room_id = ?`,
  };
}
