// Messages and room entries for the pure modules' tests, shaped as the API sends them.
import type { Message, RoomListEntry } from "../../../protocol/index.js";

export const ROOM = "0b7e7c8e-6f0a-4d53-9d1e-0d8f5b6d2a01";
export const ME = "11111111-1111-4111-8111-111111111111";
export const BOB = "22222222-2222-4222-8222-222222222222";
export const CAROL = "33333333-3333-4333-8333-333333333333";

export function message(seq: number, over: Partial<Message> = {}): Message {
  return {
    room_id: ROOM,
    seq,
    message_id: `m-${seq}`,
    sender_id: BOB,
    client_message_id: `c-${seq}`,
    body: `message ${seq}`,
    mentions: [],
    mention_all: false,
    created_at: new Date(Date.UTC(2026, 4, 1, 12, 0, seq)).toISOString(),
    ...over,
  };
}

export function entry(
  roomId: string,
  over: Partial<RoomListEntry> = {},
  createdAt = "2026-05-01T10:00:00.000Z",
): RoomListEntry {
  return {
    room: {
      id: roomId,
      type: "direct",
      name: null,
      description: null,
      notice: null,
      pinned_seq: null,
      created_by: ME,
      created_at: createdAt,
      member_count: 2,
      peer_id: BOB,
    },
    last_message: null,
    unread_count: 0,
    read_seq: 0,
    muted: false,
    hidden: false,
    ...over,
  };
}
