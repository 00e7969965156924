// What PostgreSQL knows of a room's sequence: the highest seq its object reported (forward only)
// and the members' read offsets. A ChatRoom that lost its storage reads both back before it takes
// another message, so it neither gives a seq out twice nor forgets how far its members read.
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Exec } from "./client.js";
import { isActiveMember } from "./membership.js";
import { chatMembers, chatRooms } from "./schema/index.js";

/**
 * One room's report, one statement: raises chat_rooms.last_seq to `seq` and the room's activity
 * time (which orders room lists and subscriptions) to its newest message's, and raises each
 * member's last_read_seq to the offset given; a report arriving late lowers nothing.
 */
export async function reportRoom(
  db: Exec,
  roomId: string,
  report: {
    seq: number | null;
    activityAt: string | null;
    reads: ReadonlyArray<{ user_id: string; read_seq: number }>;
  },
): Promise<void> {
  const parts: SQL[] = [];
  if (report.seq !== null) {
    const activity = report.activityAt
      ? sql`, updated_at = greatest(updated_at, ${report.activityAt}::timestamptz)`
      : sql``;
    parts.push(sql`seq as (
      update chat_rooms set last_seq = greatest(last_seq, ${report.seq}::bigint)${activity}
      where id = ${roomId} returning 1)`);
  }
  if (report.reads.length > 0) {
    const rows = sql.join(
      report.reads.map((o) => sql`(${o.user_id}::uuid, ${o.read_seq}::bigint)`),
      sql`, `,
    );
    parts.push(sql`reads as (
      update chat_members m set last_read_seq = v.seq, updated_at = now()
      from (values ${rows}) as v(user_id, seq)
      where m.room_id = ${roomId} and m.user_id = v.user_id and m.last_read_seq < v.seq returning 1)`);
  }
  if (parts.length === 0) return;
  // data-modifying CTEs run whether or not the outer query reads them
  await db.execute(sql`with ${sql.join(parts, sql`, `)} select 1`);
}

export interface RoomSeqFacts {
  last_seq: number;
  /** active members' last_read_seq (only those above 0) */
  offsets: Array<{ user_id: string; read_seq: number }>;
  /** active members who did not join at the room's start: where their history begins, null when never recorded */
  joined: Array<{ user_id: string; joined_seq: number | null }>;
}

/**
 * Where each newly joined member's history begins (their joined_seq in the room), for the
 * membership that `joined_at` names (to the millisecond, as snapshots carry it): a member who
 * left and came back in between is not matched.
 */
export async function recordJoinedSeqs(
  db: Exec,
  roomId: string,
  joins: ReadonlyArray<{ user_id: string; joined_at: string; joined_seq: number }>,
): Promise<void> {
  if (joins.length === 0) return;
  await db.execute(sql`
    update chat_members m set joined_seq = j.joined_seq
    from jsonb_to_recordset(${JSON.stringify(joins)}::jsonb) as j(user_id uuid, joined_at timestamptz, joined_seq bigint)
    where m.room_id = ${roomId} and m.user_id = j.user_id
      and date_trunc('milliseconds', m.joined_at) = j.joined_at`);
}

/** null when the room does not exist */
export async function loadRoomSeqFacts(db: Exec, roomId: string): Promise<RoomSeqFacts | null> {
  const [room] = await db.select({ lastSeq: chatRooms.lastSeq }).from(chatRooms).where(eq(chatRooms.id, roomId));
  if (!room) return null;
  const members = await db
    .select({ userId: chatMembers.userId, readSeq: chatMembers.lastReadSeq, joinedSeq: chatMembers.joinedSeq })
    .from(chatMembers)
    .where(
      and(
        eq(chatMembers.roomId, roomId),
        isActiveMember,
        sql`(${chatMembers.lastReadSeq} > 0 or ${chatMembers.joinedSeq} is distinct from 0)`,
      ),
    );
  return {
    last_seq: room.lastSeq,
    offsets: members.filter((m) => m.readSeq > 0).map((m) => ({ user_id: m.userId, read_seq: m.readSeq })),
    joined: members.filter((m) => m.joinedSeq !== 0).map((m) => ({ user_id: m.userId, joined_seq: m.joinedSeq })),
  };
}
