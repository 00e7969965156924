// Answers of the user, friend and device endpoints (PROTOCOL.md). Kept apart from models.ts so
// the shapes of one group of endpoints can be read (and imported) together.
import type { Device, Friend, PublicUser } from "./models.js";

/** GET /v1/me, PATCH /v1/users/me: the public profile and the caller's own settings */
export interface MeResponse extends PublicUser {
  group_adds: "anyone" | "friends";
}

/** GET /v1/users?q= */
export interface UserSearchResponse {
  users: PublicUser[];
}

/** GET /v1/friends */
export interface FriendListResponse {
  friends: Friend[];
}

/** PUT and PATCH /v1/friends/:user_id */
export interface FriendResponse {
  friend: Friend;
}

/** POST /v1/devices */
export interface DeviceResponse {
  device: Device;
}

/** GET /v1/devices: the caller's devices that receive pushes, oldest first */
export interface DeviceListResponse {
  devices: Device[];
}

/** GET /v1/push/vapid-public-key: the application server key a browser subscribes with (base64url) */
export interface VapidPublicKeyResponse {
  key: string;
}
