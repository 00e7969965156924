// Answers of the /v1/rooms endpoints (PROTOCOL.md), built from the shapes in models.ts.
import { z } from "zod";
import { ROOM_LIST_LIMIT_DEFAULT, ROOM_LIST_LIMIT_MAX } from "./limits.js";
import type { Room, RoomListEntry, RoomMember, RoomMemberDetail } from "./models.js";

/** GET /rooms?limit=&cursor=: a page, latest activity first; `cursor` is the previous page's next_cursor */
export const RoomListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(ROOM_LIST_LIMIT_MAX).default(ROOM_LIST_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(200).optional(),
});
export type RoomListQuery = z.infer<typeof RoomListQuery>;

/** POST /rooms, PATCH /rooms/:id */
export interface RoomResponse {
  room: Room;
}

/** GET /rooms */
export interface RoomListResponse {
  rooms: RoomListEntry[];
  /** give it as `cursor` for the next page; null on the last page */
  next_cursor: string | null;
}

/** GET /rooms/:id: the active members with their names, owner first, then admins, then members by tenure */
export interface RoomDetailResponse {
  room: Room;
  members: RoomMemberDetail[];
}

/** POST /rooms/:id/members: `added` holds the ids that were not active members before */
export interface AddMembersResponse {
  room: Room;
  added: string[];
}

/** PATCH /rooms/:id/members/:user_id */
export interface MemberResponse {
  member: RoomMember;
}

/** PATCH /rooms/:id/me */
export interface MyRoomSettings {
  muted: boolean;
  hidden: boolean;
}
