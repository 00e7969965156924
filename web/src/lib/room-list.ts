// The room list: latest activity first, with unread counts and last messages kept current from
// the session socket's `activity` frames and one's own reads.
import type { Message, RoomListEntry } from "../../../protocol/index.js";

export const activityAt = (e: RoomListEntry): string => e.last_message?.created_at ?? e.room.created_at;

export function sortByActivity(entries: readonly RoomListEntry[]): RoomListEntry[] {
  return [...entries].sort((a, b) => activityAt(b).localeCompare(activityAt(a)));
}

/** Puts (or replaces) a room's entry and keeps the order. */
export function upsertRoom(entries: readonly RoomListEntry[], entry: RoomListEntry): RoomListEntry[] {
  return sortByActivity([...entries.filter((e) => e.room.id !== entry.room.id), entry]);
}

/** A room moved on: its unread count, and its newest message when the frame carries one. */
export function applyActivity(
  entries: readonly RoomListEntry[],
  a: { room_id: string; unread_count: number; message?: Message },
): RoomListEntry[] {
  const entry = entries.find((e) => e.room.id === a.room_id);
  if (!entry) return [...entries];
  const newer = a.message && (!entry.last_message || a.message.seq >= entry.last_message.seq);
  return upsertRoom(entries, {
    ...entry,
    unread_count: a.unread_count,
    ...(newer ? { last_message: a.message! } : {}),
  });
}

/** A message seen in the open room: the entry's preview follows it (a newer seq, or a new version of the same). */
export function noteMessage(entries: readonly RoomListEntry[], m: Message): RoomListEntry[] {
  const entry = entries.find((e) => e.room.id === m.room_id);
  if (!entry) return [...entries];
  const held = entry.last_message;
  if (held && (m.seq < held.seq || (m.seq === held.seq && (m.rev ?? 0) < (held.rev ?? 0)))) return [...entries];
  return upsertRoom(entries, { ...entry, last_message: m });
}

/** This user read the room up to `seq` (here or on another device). */
export function markRead(entries: readonly RoomListEntry[], roomId: string, seq: number): RoomListEntry[] {
  return entries.map((e) => {
    if (e.room.id !== roomId || seq <= e.read_seq) return e;
    // the room's last seq, as far as the entry knows it
    const last = Math.max(e.last_message?.seq ?? 0, e.read_seq + e.unread_count);
    return { ...e, read_seq: seq, unread_count: Math.max(0, last - seq) };
  });
}

export const totalUnread = (entries: readonly RoomListEntry[]): number =>
  entries.reduce((n, e) => n + (e.muted ? 0 : e.unread_count), 0);
