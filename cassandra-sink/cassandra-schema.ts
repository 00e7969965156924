// The archive's CQL schema, applied by the sink at start and by `main.ts migrate`, never by hand.
// Every statement is idempotent (IF NOT EXISTS, or an ALTER only when the live option differs), so
// running it again is harmless.
import type cassandra from "cassandra-driver";
import type { Replication } from "./config.js";

export interface SchemaOptions {
  keyspace: string;
  replication: Replication;
  retentionSeconds: number;
  bucketSize: number;
  log?: (line: string) => void;
}

// TTL-only tables: an expired cell is purged by compaction once gc_grace has passed. Explicit
// deletes exist only for attachments of deleted messages, which readers ignore anyway (the message
// row says "deleted"), so a short grace (the default hint window) risks nothing a reader sees.
const TTL_TABLE_GC_GRACE_SECONDS = 10_800;

function replicationCql(r: Replication): string {
  if (r.class === "SimpleStrategy") return `{'class': 'SimpleStrategy', 'replication_factor': ${r.replication_factor}}`;
  const dcs = Object.entries(r.dcs).map(([dc, rf]) => `'${dc}': ${rf}`);
  return `{'class': 'NetworkTopologyStrategy', ${dcs.join(", ")}}`;
}

/**
 * TWCS works best with some 20-30 windows over the data's lifetime: each window's SSTables are
 * compacted once into one, and a whole SSTable is dropped when everything in it has expired.
 * 6 months gives 6-day windows.
 */
export function compactionWindow(retentionSeconds: number): { unit: "HOURS" | "DAYS"; size: number } {
  const hours = Math.max(1, Math.round(retentionSeconds / 30 / 3600));
  return hours % 24 === 0 ? { unit: "DAYS", size: hours / 24 } : { unit: "HOURS", size: hours };
}

function ttlTableOptions(retentionSeconds: number): string {
  const w = compactionWindow(retentionSeconds);
  return (
    `default_time_to_live = ${retentionSeconds}` +
    ` AND gc_grace_seconds = ${TTL_TABLE_GC_GRACE_SECONDS}` +
    ` AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': '${w.unit}', 'compaction_window_size': ${w.size}}`
  );
}

export function schemaStatements(o: Pick<SchemaOptions, "keyspace" | "replication" | "retentionSeconds">): string[] {
  const ks = o.keyspace;
  const ttlOptions = ttlTableOptions(o.retentionSeconds);
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationCql(o.replication)} AND durable_writes = true`,
    // settings that must never change under existing data (the bucket size decides where rows live)
    `CREATE TABLE IF NOT EXISTS ${ks}.archive_settings (name text PRIMARY KEY, value text)`,
    // One partition per room and seq bucket (bucket = floor(seq / bucket size)), newest first,
    // so a partition holds at most bucket-size rows however busy the room is.
    `CREATE TABLE IF NOT EXISTS ${ks}.messages (
      room_id uuid,
      bucket bigint,
      seq bigint,
      message_id timeuuid,
      sender_id uuid,
      client_message_id text,
      body text,
      mentioned_user_ids frozen<list<uuid>>,
      mention_all boolean,
      reply_to_seq bigint,
      attachment_count int,
      status text,
      created_at timestamp,
      updated_at timestamp,
      PRIMARY KEY ((room_id, bucket), seq)
    ) WITH CLUSTERING ORDER BY (seq DESC) AND ${ttlOptions}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.message_attachments (
      room_id uuid,
      bucket bigint,
      seq bigint,
      idx int,
      attachment_id text,
      url text,
      mime text,
      size bigint,
      name text,
      PRIMARY KEY ((room_id, bucket), seq, idx)
    ) WITH CLUSTERING ORDER BY (seq DESC, idx ASC) AND ${ttlOptions}`,
    // Which buckets of a room hold messages, newest first: pages find their partitions here
    // instead of probing every bucket number (buckets can be empty once their messages expire).
    // Each write re-arms a TTL a little longer than the retention, so a bucket row outlives every
    // message in it (see bucketTtl in cassandra-store.ts).
    `CREATE TABLE IF NOT EXISTS ${ks}.room_buckets (
      room_id uuid,
      bucket bigint,
      PRIMARY KEY ((room_id), bucket)
    ) WITH CLUSTERING ORDER BY (bucket DESC) AND default_time_to_live = ${o.retentionSeconds} AND gc_grace_seconds = ${TTL_TABLE_GC_GRACE_SECONDS}`,
    // Upserted, never expired: a member's offset stays meaningful as long as the membership.
    `CREATE TABLE IF NOT EXISTS ${ks}.read_offsets (
      room_id uuid,
      user_id uuid,
      read_seq bigint,
      updated_at timestamp,
      PRIMARY KEY ((room_id), user_id)
    )`,
    // The highest seq a room ever archived, never expired: a room that lost its storage continues
    // after it. Each write's timestamp is the seq itself, so the highest seq wins whatever order
    // batches arrive in, with no read before the write (and nothing else may write this table).
    `CREATE TABLE IF NOT EXISTS ${ks}.room_last_seq (
      room_id uuid PRIMARY KEY,
      last_seq bigint
    )`,
  ];
}

const shortClass = (c: string | undefined) => (c ?? "").split(".").pop();

export async function applySchema(client: cassandra.Client, o: SchemaOptions): Promise<void> {
  const log = o.log ?? (() => {});
  const ks = o.keyspace;
  const existing = (
    await client.execute(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, [ks], {
      prepare: true,
    })
  ).first();
  const [keyspaceCql, settingsCql, ...tableCql] = schemaStatements(o);
  await client.execute(keyspaceCql!);
  await client.execute(settingsCql!);

  // The bucket size is fixed for the life of the keyspace: rows written with one size cannot be
  // found with another. A lightweight transaction makes the first writer's size stick; a sink
  // configured otherwise stops here, before it changes anything.
  const lwt = await client.execute(
    `INSERT INTO ${ks}.archive_settings (name, value) VALUES ('bucket_size', ?) IF NOT EXISTS`,
    [String(o.bucketSize)],
    { prepare: true },
  );
  const setting = lwt.first();
  if (setting && setting.get("[applied]") === false && setting.get("value") !== String(o.bucketSize)) {
    throw new Error(
      `keyspace ${ks} was created with bucket size ${setting.get("value")}; this sink is configured with ${o.bucketSize} (ARCHIVE_BUCKET_SIZE). Rows cannot be moved between bucket sizes: use the original size or a new keyspace`,
    );
  }

  for (const cql of tableCql) await client.execute(cql);

  if (existing) {
    // Changing replication under live data needs a repair plan, so it is reported, not done.
    const live = existing.get("replication") as Record<string, string>;
    const want = o.replication;
    const same =
      want.class === "SimpleStrategy"
        ? shortClass(live.class) === "SimpleStrategy" && live.replication_factor === String(want.replication_factor)
        : shortClass(live.class) === "NetworkTopologyStrategy" &&
          Object.keys(live).filter((k) => k !== "class").length === Object.keys(want.dcs).length &&
          Object.entries(want.dcs).every(([dc, rf]) => live[dc] === String(rf));
    if (!same)
      log(
        `keyspace ${ks} has replication ${JSON.stringify(live)}, not the configured ${JSON.stringify(want)}; change it with ALTER KEYSPACE and a repair`,
      );
  }

  // Retention may change between releases: bring the TTL tables' options up to date.
  const w = compactionWindow(o.retentionSeconds);
  for (const table of ["messages", "message_attachments", "room_buckets"]) {
    const row = (
      await client.execute(
        `SELECT default_time_to_live, gc_grace_seconds, compaction FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`,
        [ks, table],
        { prepare: true },
      )
    ).first();
    if (!row) throw new Error(`table ${ks}.${table} is missing after CREATE TABLE`);
    const compaction = row.get("compaction") as Record<string, string>;
    const twcs = table !== "room_buckets";
    const stale =
      row.get("default_time_to_live") !== o.retentionSeconds ||
      row.get("gc_grace_seconds") !== TTL_TABLE_GC_GRACE_SECONDS ||
      (twcs &&
        (shortClass(compaction.class) !== "TimeWindowCompactionStrategy" ||
          compaction.compaction_window_unit !== w.unit ||
          compaction.compaction_window_size !== String(w.size)));
    if (stale) {
      const options = twcs
        ? ttlTableOptions(o.retentionSeconds)
        : `default_time_to_live = ${o.retentionSeconds} AND gc_grace_seconds = ${TTL_TABLE_GC_GRACE_SECONDS}`;
      log(`updating ${ks}.${table}: ${options}`);
      await client.execute(`ALTER TABLE ${ks}.${table} WITH ${options}`);
    }
  }
}
