// Shapes the API answers with. Field names are the wire names (snake_case).
import type { Message } from "./frames.js";
import type { RoleName } from "./http.js";

export interface PublicUser {
  id: string;
  handle: string;
  display_name: string;
}

export interface AuthTokens {
  access_token: string;
  refresh_token: string;
  /** when the access token stops being accepted; refresh before then */
  access_token_expires_at: string;
}

export interface AuthResponse extends AuthTokens {
  user: PublicUser;
}

export interface Friend {
  user: PublicUser;
  favorite: boolean;
  blocked: boolean;
}

export interface Room {
  id: string;
  type: "direct" | "group";
  name: string | null;
  description: string | null;
  notice: string | null;
  pinned_seq: number | null;
  created_by: string;
  created_at: string;
  member_count: number;
  /** for direct rooms: the other member */
  peer_id?: string;
}

export interface RoomMember {
  user_id: string;
  role: RoleName;
}

/** GET /rooms/:id: a member with the names a client shows (members need not be friends, and a client cannot look names up by id otherwise) */
export interface RoomMemberDetail extends RoomMember {
  handle: string;
  display_name: string;
}

export interface RoomListEntry {
  room: Room;
  last_message: Message | null;
  unread_count: number;
  read_seq: number;
  muted: boolean;
  hidden: boolean;
}

export interface Device {
  id: string;
  platform: "apns" | "fcm" | "webpush";
  name: string | null;
  /** APNs only: the environment the token belongs to; null for FCM and Web Push */
  environment: "production" | "sandbox" | null;
  /** the client's socket device id it was registered with: logging that device out retires the token */
  device_id: string | null;
  created_at: string;
}
