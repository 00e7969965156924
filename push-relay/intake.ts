// Taking in one room's batch, in one transaction: the batch id (a resent batch is done once), the
// recipients' notifications (one pending row per recipient and room, updated by every later
// message until it is sent), their unread counts, the reads that mark notifications read, and the
// deleted messages whose previews go.
// Every step is a bulk statement over arrays, so a 1,000-member room costs a handful of
// statements, not one per recipient.
import { sql } from "drizzle-orm";
import { MemberStatus, PushStatus } from "../db/index.js";
import type { PushBatch, PushBatchAnswer } from "../protocol/push.js";
import { planNotifications, type Candidate } from "./audience.js";
import { collapseKeyFor, renderPreview } from "./content.js";
import { list, type RelayDb, type RelayExec } from "./store.js";

export async function takeBatch(db: RelayDb, batch: PushBatch): Promise<PushBatchAnswer> {
  const room = batch.room_id.toLowerCase();
  return db.transaction(async (tx) => {
    const taken = await tx.execute(sql`
      insert into push_batches (batch_id, room_id) values (${batch.batch_id}, ${room})
      on conflict (batch_id) do nothing returning batch_id`);
    if (taken.rows.length === 0) return { batch_id: batch.batch_id, notifications: 0, duplicate: true };

    let notifications = 0;
    if (batch.messages.length && batch.audience) {
      const candidates = await audienceOf(tx, room, batch.audience);
      notifications = await writeNotifications(tx, room, batch, candidates);
    }
    if (batch.reads.length) await applyReads(tx, room, batch.reads);
    if (batch.deleted_seqs?.length) await clearDeleted(tx, room, batch.deleted_seqs);
    return { batch_id: batch.batch_id, notifications };
  });
}

async function audienceOf(tx: RelayExec, room: string, audience: NonNullable<PushBatch["audience"]>) {
  if (audience.mode === "only") {
    const quiet = new Set(audience.quiet.map((u) => u.toLowerCase()));
    return audience.user_ids.map((u): Candidate => ({ user_id: u.toLowerCase(), quiet: quiet.has(u.toLowerCase()) }));
  }
  const except = audience.user_ids.map((u) => u.toLowerCase());
  // the room names only who to leave out, so a member who joined after some of the batch's
  // messages (or whom the room has not heard of yet) is among the rest: joined_seq says which are theirs
  const r = await tx.execute<{ user_id: string; quiet: boolean; joined_seq: string | null; joined_ms: number }>(sql`
    select user_id, (muted or hidden) as quiet, joined_seq, (extract(epoch from joined_at) * 1000)::float8 as joined_ms
    from chat_members
    where room_id = ${room} and status = ${MemberStatus.active}
      and not (user_id = any(${list(except)}::uuid[]))`);
  return r.rows.map((m): Candidate => ({
    user_id: m.user_id,
    quiet: m.quiet,
    joined_seq: m.joined_seq === null ? null : Number(m.joined_seq),
    joined_ms: m.joined_ms,
  }));
}

async function writeNotifications(
  tx: RelayExec,
  room: string,
  batch: PushBatch,
  candidates: readonly Candidate[],
): Promise<number> {
  if (candidates.length === 0) return 0;
  const ids = candidates.map((c) => c.user_id);
  // a read that arrived before this (late) batch: nothing at or below it is news
  const read = await tx.execute<{ user_id: string; read_seq: string }>(sql`
    select user_id, read_seq from push_unread where room_id = ${room} and user_id = any(${list(ids)}::uuid[])`);
  const readSeqs = new Map(read.rows.map((r) => [r.user_id, Number(r.read_seq)]));
  const plans = planNotifications(batch.messages, candidates, readSeqs);
  if (plans.length === 0) return 0;

  const senders = [...new Set(plans.map((p) => p.sender_id))];
  const named = await tx.execute<{ id: string; display_name: string }>(sql`
    select id, display_name from users where id = any(${list(senders)}::uuid[])`);
  const names = new Map(named.rows.map((r) => [r.id, r.display_name]));
  const rendered = plans.map((p) =>
    renderPreview({
      roomType: batch.room_type,
      roomName: batch.room_name,
      senderName: names.get(p.sender_id) ?? null,
      preview: p.preview,
    }),
  );

  const col = <T>(f: (i: number) => T) => list(plans.map((_, i) => f(i)));
  // The latest message wins the banner; counts add up; a mention anywhere in the burst sticks.
  // scheduled_at is set for a new row only: an existing one keeps its retry time (or a
  // dispatcher's lease on it).
  const upserted = await tx.execute(sql`
    insert into push_notifications
      (user_id, room_id, seq, count, sender_id, mentioned, collapse_key, title, body, status, scheduled_at)
    select v.user_id, ${room}::uuid, v.seq, v.count, v.sender_id, v.mentioned, ${collapseKeyFor(room)}::text,
           v.title, v.body, ${PushStatus.pending}::smallint, now()
    from unnest(${col((i) => plans[i]!.user_id)}::uuid[], ${col((i) => plans[i]!.seq)}::bigint[],
                ${col((i) => plans[i]!.count)}::int[], ${col((i) => plans[i]!.sender_id)}::uuid[],
                ${col((i) => plans[i]!.mentioned)}::boolean[], ${col((i) => rendered[i]!.title)}::text[],
                ${col((i) => rendered[i]!.body)}::text[])
      as v(user_id, seq, count, sender_id, mentioned, title, body)
    order by v.user_id
    on conflict (user_id, room_id) where status = ${PushStatus.pending} do update set
      count = push_notifications.count + excluded.count,
      seq = greatest(push_notifications.seq, excluded.seq),
      sender_id = case when excluded.seq > push_notifications.seq then excluded.sender_id else push_notifications.sender_id end,
      title = case when excluded.seq > push_notifications.seq then excluded.title else push_notifications.title end,
      body = case when excluded.seq > push_notifications.seq then excluded.body else push_notifications.body end,
      mentioned = push_notifications.mentioned or excluded.mentioned,
      updated_at = now()
    returning id`);

  // set, never incremented: the room's own count of what is unread
  const lastSeq = Math.max(batch.last_seq, ...batch.messages.map((m) => m.seq));
  await tx.execute(sql`
    insert into push_unread (user_id, room_id, last_seq)
    select u, ${room}::uuid, ${lastSeq}::bigint from unnest(${col((i) => plans[i]!.user_id)}::uuid[]) as u order by u
    on conflict (user_id, room_id) do update set
      last_seq = greatest(push_unread.last_seq, excluded.last_seq), updated_at = now()`);
  return upserted.rows.length;
}

async function applyReads(tx: RelayExec, room: string, reads: PushBatch["reads"]): Promise<void> {
  // newest per user, in one lock order
  const newest = new Map<string, number>();
  for (const r of reads) {
    const u = r.user_id.toLowerCase();
    newest.set(u, Math.max(newest.get(u) ?? 0, r.read_seq));
  }
  const users = [...newest.keys()].sort();
  const seqs = users.map((u) => newest.get(u)!);
  await tx.execute(sql`
    insert into push_unread (user_id, room_id, read_seq)
    select v.u, ${room}::uuid, v.s from unnest(${list(users)}::uuid[], ${list(seqs)}::bigint[]) as v(u, s) order by v.u
    on conflict (user_id, room_id) do update set
      read_seq = greatest(push_unread.read_seq, excluded.read_seq), updated_at = now()`);
  // A pending notification read before it went out is never sent (status read); a sent one keeps
  // its status and gets read_at.
  await tx.execute(sql`
    update push_notifications n set
      read_at = now(),
      status = case when n.status = ${PushStatus.pending} then ${PushStatus.read} else n.status end,
      updated_at = now()
    from unnest(${list(users)}::uuid[], ${list(seqs)}::bigint[]) as v(u, s)
    where n.room_id = ${room} and n.user_id = v.u and n.seq <= v.s and n.read_at is null`);
}

/**
 * Deleted messages lose their preview everywhere: a notification showing one (its latest message,
 * pending or already sent) keeps its title and count and loses its body, so a pending one goes out
 * as "N new messages" (content.ts); a later message of the room gives the banner a body again.
 */
async function clearDeleted(tx: RelayExec, room: string, seqs: readonly number[]): Promise<void> {
  await tx.execute(sql`
    update push_notifications set body = null, updated_at = now()
    where room_id = ${room} and seq = any(${list([...seqs])}::bigint[]) and body is not null`);
}
