// Room rows to the wire shapes of protocol/models.ts, and the key that makes a pair's direct room unique.
import { RoomType, type RoomRow, type chatRoomMetadata } from "../../db/index.js";
import type { Room } from "../../protocol/index.js";

export type MetadataRow = typeof chatRoomMetadata.$inferSelect;

/**
 * chat_rooms.direct_key of a pair: "<smaller id>:<larger id>" (plain string order). Both people
 * produce the same key whoever asks first, so the partial unique index allows one room per pair.
 */
export function directKey(a: string, b: string): string {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? `${x}:${y}` : `${y}:${x}`;
}

/** The other person of a direct room, read from its key (members never change in a direct room). */
export function peerOf(key: string | null, viewerId: string): string | undefined {
  if (!key) return undefined;
  const [a, b] = key.split(":");
  if (!a || !b) return undefined;
  if (a === viewerId) return b;
  if (b === viewerId) return a;
  return undefined;
}

export function toRoom(room: RoomRow, meta: MetadataRow | null, memberCount: number, viewerId: string): Room {
  const direct = room.roomType === RoomType.direct;
  const out: Room = {
    id: room.id,
    type: direct ? "direct" : "group",
    name: room.name,
    description: meta?.description ?? null,
    notice: meta?.notice ?? null,
    pinned_seq: meta?.pinnedSeq ?? null,
    created_by: room.createdBy,
    created_at: room.createdAt.toISOString(),
    member_count: memberCount,
  };
  if (direct) {
    const peer = peerOf(room.directKey, viewerId);
    if (peer) out.peer_id = peer;
  }
  return out;
}
