// Previews are message content: they go when the messages do (RETENTION_DAYS after they were
// sent). Delivery logs go at the same age; the batch ids taken from rooms only need to outlive a
// room's retries, a day. Each statement works in bounded slices so a first run over a large
// backlog never holds a huge transaction or its locks.
import { sql } from "drizzle-orm";
import { PushStatus } from "../db/index.js";
import { dbError, type RelayDb } from "./store.js";

export const RETENTION_INTERVAL_MS = 3_600_000;
const BATCH_ID_KEEP_MS = 86_400_000;
const SLICE = 5_000;

export interface RetentionResult {
  /** notifications whose title and body were cleared */
  cleared: number;
  /** pending ones older than retention given up (their messages are gone) */
  expired: number;
  logsDeleted: number;
  batchesDeleted: number;
}

export async function purgeExpired(db: RelayDb, retentionDays: number): Promise<RetentionResult> {
  const keepMs = Math.round(retentionDays * 86_400_000);
  const sliced = async (statement: () => ReturnType<RelayDb["execute"]>) => {
    let total = 0;
    for (;;) {
      const n = (await statement()).rowCount ?? 0;
      total += n;
      if (n < SLICE) return total;
    }
  };
  const cutoff = sql`now() - ${keepMs} * interval '1 millisecond'`;
  const expired = await sliced(() =>
    db.execute(sql`
      update push_notifications set status = ${PushStatus.failed}, failed_reason = 'expired', updated_at = now()
      where id in (select id from push_notifications
                   where status = ${PushStatus.pending} and created_at < ${cutoff} limit ${SLICE})`),
  );
  const cleared = await sliced(() =>
    db.execute(sql`
      update push_notifications set title = null, body = null
      where id in (select id from push_notifications
                   where created_at < ${cutoff} and (title is not null or body is not null) limit ${SLICE})`),
  );
  const logsDeleted = await sliced(() =>
    db.execute(sql`
      delete from push_delivery_logs
      where id in (select id from push_delivery_logs where at < ${cutoff} limit ${SLICE})`),
  );
  const batchesDeleted = await sliced(() =>
    db.execute(sql`
      delete from push_batches
      where batch_id in (select batch_id from push_batches
                         where received_at < now() - ${BATCH_ID_KEEP_MS} * interval '1 millisecond' limit ${SLICE})`),
  );
  return { cleared, expired, logsDeleted, batchesDeleted };
}

/** Runs the purge now and then every interval until stopped; a failed run is logged and retried next time. */
export function startRetention(
  db: RelayDb,
  retentionDays: number,
  log: (line: string) => void,
  intervalMs = RETENTION_INTERVAL_MS,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return; // a slow run (a large backlog) is not overlapped by the next
    running = purgeExpired(db, retentionDays)
      .then(
        (r) => {
          if (r.cleared || r.expired || r.logsDeleted || r.batchesDeleted)
            log(
              `retention: ${r.cleared} previews cleared, ${r.expired} pending expired, ` +
                `${r.logsDeleted} delivery logs and ${r.batchesDeleted} batch ids deleted`,
            );
        },
        (err: unknown) => log(`retention run failed (next in ${Math.round(intervalMs / 60_000)} min): ${dbError(err)}`),
      )
      .finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
