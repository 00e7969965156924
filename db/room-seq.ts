// What PostgreSQL knows of a room's sequence: the highest seq its object reported (forward only)
// and the members' read offsets. A ChatRoom that lost its storage reads both back before it takes
// another message, so it neither gives a seq out twice nor forgets how far its members read.
import { and, eq, sql } from "drizzle-orm";
import type { Exec } from "./client.js";
import { isActiveMember } from "./membership.js";
import { chatMembers, chatRooms } from "./schema/index.js";

/**
 * Raises chat_rooms.last_seq to `seq`, and the room's activity time (which orders room lists and
 * subscriptions) to its newest message's; an older report arriving late lowers neither.
 */
export async function recordLastSeq(db: Exec, roomId: string, seq: number, activityAt: string | null): Promise<void> {
  await db
    .update(chatRooms)
    .set({
      lastSeq: sql`greatest(${chatRooms.lastSeq}, ${seq}::bigint)`,
      ...(activityAt ? { updatedAt: sql`greatest(${chatRooms.updatedAt}, ${activityAt}::timestamptz)` } : {}),
    })
    .where(eq(chatRooms.id, roomId));
}

export interface RoomSeqFacts {
  last_seq: number;
  /** active members' last_read_seq (only those above 0) */
  offsets: Array<{ user_id: string; read_seq: number }>;
}

/** null when the room does not exist */
export async function loadRoomSeqFacts(db: Exec, roomId: string): Promise<RoomSeqFacts | null> {
  const [room] = await db.select({ lastSeq: chatRooms.lastSeq }).from(chatRooms).where(eq(chatRooms.id, roomId));
  if (!room) return null;
  const members = await db
    .select({ userId: chatMembers.userId, readSeq: chatMembers.lastReadSeq })
    .from(chatMembers)
    .where(and(eq(chatMembers.roomId, roomId), isActiveMember, sql`${chatMembers.lastReadSeq} > 0`));
  return { last_seq: room.lastSeq, offsets: members.map((m) => ({ user_id: m.userId, read_seq: m.readSeq })) };
}
