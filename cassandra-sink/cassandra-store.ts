// The production archive: Apache Cassandra through cassandra-driver. Prepared statements, routed
// to a replica of their partition (token-aware over DC-aware round robin), all marked idempotent so
// the driver may retry or speculatively re-send them: every write carries its own timestamp
// (USING TIMESTAMP), so sending it twice writes the same cells.
import cassandra from "cassandra-driver";
import type { ArchiveBatch, ArchiveHistoryPage, ArchiveHistoryQuery, ArchiveOffsets, ArchiveWriteResult } from "../protocol/index.js";
import { applySchema } from "./cassandra-schema.js";
import type { CassandraStoreConfig, ConsistencyName } from "./config.js";
import { pageBounds, remainingTtlSeconds, runBounded, toHistoryMessage, type ArchiveStore, type StoredMessage } from "./store.js";

const { consistencies } = cassandra.types;
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

/** how many bucket numbers one room_buckets lookup returns */
const BUCKET_LIST_PAGE = 16;
const toNumber = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === "number" ? v : (v as cassandra.types.Long).toNumber());
const micros = (iso: string) => Date.parse(iso) * 1000;

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

  constructor(private readonly opts: CassandraStoreOptions) {
    this.ks = opts.keyspace;
    this.q = queries(opts.keyspace);
    const consistency = CONSISTENCY[opts.consistency];
    const { loadBalancing, reconnection } = cassandra.policies;
    this.client = new cassandra.Client({
      contactPoints: opts.contactPoints,
      localDataCenter: opts.localDataCenter,
      policies: {
        loadBalancing: new loadBalancing.TokenAwarePolicy(new loadBalancing.DCAwareRoundRobinPolicy(opts.localDataCenter)),
        // the driver's default backs off to 10 minutes; a sink should notice a returning node within seconds
        reconnection: new reconnection.ExponentialReconnectionPolicy(250, 4000, false),
      },
      socketOptions: { connectTimeout: 5000, readTimeout: opts.readTimeoutMs ?? 12_000 },
      queryOptions: { consistency, prepare: true, isIdempotent: true },
      ...(opts.username !== undefined ? { authProvider: new cassandra.auth.PlainTextAuthProvider(opts.username, opts.password ?? "") } : {}),
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
    const tasks: Array<() => Promise<unknown>> = [];
    const exec = (cql: string, params: unknown[]) => () => this.client.execute(cql, params, this.writeOptions);
    const buckets = new Map<string, [string, number]>();
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
      tasks.push(
        exec(this.q.insertMessage, [
          m.room_id,
          bucket,
          m.seq,
          m.message_id,
          m.sender_id,
          m.client_message_id,
          deleted ? "" : m.body,
          deleted ? [] : m.mentions,
          !deleted && m.mention_all,
          m.reply_to_seq ?? null,
          deleted ? 0 : m.attachments.length,
          m.status,
          new Date(m.created_at),
          new Date(m.updated_at ?? m.created_at),
          ttl,
          ts,
        ]),
      );
      if (deleted) {
        tasks.push(exec(this.q.deleteAttachments, [ts, m.room_id, bucket, m.seq]));
      } else {
        m.attachments.forEach((a, idx) => tasks.push(exec(this.q.insertAttachment, [m.room_id, bucket, m.seq, idx, a.id, a.url, a.mime, a.size, a.name, ttl, ts])));
      }
      buckets.set(`${m.room_id}/${bucket}`, [m.room_id, bucket]);
    }
    for (const [roomId, bucket] of buckets.values()) tasks.push(exec(this.q.insertBucket, [roomId, bucket, this.opts.retentionSeconds]));
    for (const o of batch.read_offsets) {
      // the write timestamp is the offset's own time: an older offset arriving late loses
      tasks.push(exec(this.q.insertOffset, [o.room_id, o.user_id, o.read_seq, new Date(o.updated_at), micros(o.updated_at)]));
    }
    await runBounded(tasks, this.opts.writeConcurrency);
    return { messages: batch.messages.length, read_offsets: batch.read_offsets.length, expired };
  }

  async readHistory(roomId: string, query: ArchiveHistoryQuery): Promise<ArchiveHistoryPage> {
    const { lo, hi, ascending } = pageBounds(query);
    const want = query.limit + 1; // one more than the page tells whether there is more
    const rows: cassandra.types.Row[] = [];
    const rowBucket: number[] = [];
    let first = this.bucketOf(lo + 1);
    let last = this.bucketOf(hi - 1);
    const listCql = ascending ? this.q.listBucketsAsc : this.q.listBucketsDesc;
    const pageCql = ascending ? this.q.pageAsc : this.q.pageDesc;
    outer: while (first <= last) {
      const listed = (await this.client.execute(listCql, [roomId, first, last, BUCKET_LIST_PAGE], this.readOptions)).rows.map((r) => toNumber(r.get("bucket")));
      for (const bucket of listed) {
        const rs = await this.client.execute(pageCql, [roomId, bucket, lo, hi, want - rows.length], this.readOptions);
        for (const r of rs.rows) {
          rows.push(r);
          rowBucket.push(bucket);
        }
        if (rows.length >= want) break outer;
      }
      if (listed.length < BUCKET_LIST_PAGE) break;
      const edge = listed[listed.length - 1]!;
      if (ascending) first = edge + 1;
      else last = edge - 1;
    }

    const pageRows = rows.slice(0, query.limit);
    const attachments = await this.readAttachments(roomId, pageRows, rowBucket);
    const messages = pageRows.map((r) => {
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
        status: r.get("status") === "deleted" ? "deleted" : "active",
        created_at: (r.get("created_at") as Date).toISOString(),
      };
      return toHistoryMessage(m);
    });
    return { messages, has_more: rows.length > query.limit };
  }

  // One range read per bucket the page touched, only when some message on the page has any.
  private async readAttachments(roomId: string, rows: cassandra.types.Row[], rowBucket: number[]): Promise<Map<number, StoredMessage["attachments"]>> {
    const ranges = new Map<number, { min: number; max: number }>();
    rows.forEach((r, i) => {
      if (!r.get("attachment_count") || r.get("status") === "deleted") return;
      const seq = toNumber(r.get("seq"));
      const b = rowBucket[i]!;
      const range = ranges.get(b);
      if (!range) ranges.set(b, { min: seq, max: seq });
      else ranges.set(b, { min: Math.min(range.min, seq), max: Math.max(range.max, seq) });
    });
    const out = new Map<number, StoredMessage["attachments"]>();
    await Promise.all(
      [...ranges].map(async ([bucket, { min, max }]) => {
        const rs = await this.client.execute(this.q.attachments, [roomId, bucket, min, max], { ...this.readOptions, fetchSize: 5000 });
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
      }),
    );
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

  async ping(): Promise<void> {
    await this.client.execute("SELECT release_version FROM system.local", [], { prepare: false, isIdempotent: true, consistency: consistencies.localOne, readTimeout: 2000 });
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}

function queries(ks: string) {
  const messageColumns =
    "room_id, bucket, seq, message_id, sender_id, client_message_id, body, mentioned_user_ids, mention_all, reply_to_seq, attachment_count, status, created_at, updated_at";
  const selectMessages = `SELECT seq, message_id, sender_id, client_message_id, body, mentioned_user_ids, mention_all, reply_to_seq, attachment_count, status, created_at FROM ${ks}.messages`;
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
  };
}
