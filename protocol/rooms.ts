// Answers of the /v1/rooms endpoints (PROTOCOL.md), built from the shapes in models.ts.
import type { Room, RoomListEntry, RoomMember } from "./models.js";

/** POST /rooms, PATCH /rooms/:id */
export interface RoomResponse {
  room: Room;
}

/** GET /rooms */
export interface RoomListResponse {
  rooms: RoomListEntry[];
}

/** GET /rooms/:id: the active members, owner first, then admins, then members by tenure */
export interface RoomDetailResponse {
  room: Room;
  members: RoomMember[];
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
