// Contracts between the edge Worker and the Durable Objects (and between the objects): ticket
// bodies, the membership snapshot a room holds, and the answers of their RPC methods.
import { z } from "zod";
import type { Message } from "./frames.js";
import { ClientDeviceId, Id, type RoleName } from "./http.js";

export const TICKET_TTL_SECONDS = 30;
export const DeviceId = ClientDeviceId.describe(
  "the id from POST /devices, or any stable id the client keeps per installation",
);
export const TicketBody = z.strictObject({ device_id: DeviceId, room_id: Id.optional() });
export type TicketBody = z.infer<typeof TicketBody>;

export interface TicketResponse {
  ticket: string;
  expires_at: string;
}

export const StreamQuery = z.strictObject({
  ticket: z.string().min(1).max(4096),
  after_seq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** the last `rev` the client holds: edits and deletes after it are replayed as `update` frames */
  after_rev: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** `1`: the server may put several frames of one moment into one message, as a JSON array (batch.ts) */
  batch: z.enum(["0", "1"]).optional(),
});
export const ConnectQuery = z.strictObject({ ticket: z.string().min(1).max(4096) });

export const HistoryQuery = z
  .strictObject({
    before_seq: z.coerce.number().int().min(1).optional(),
    after_seq: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
  })
  .refine((q) => q.before_seq === undefined || q.after_seq === undefined, "give before_seq or after_seq, not both");
export type HistoryQuery = z.infer<typeof HistoryQuery>;

export interface HistoryPage {
  messages: Message[];
  has_more: boolean;
}

/** What the edge learned from a verified ticket, handed to the object that accepts the socket. */
export interface SocketClaims {
  user_id: string;
  device_id: string;
  /** the ticket's id: the accepting object refuses a second use */
  ticket_id: string;
  ticket_expires_at: number;
  /** epoch ms when the access token behind the ticket expires; the socket closes then unless refreshed */
  token_expires_at: number;
  room_id?: string;
}
export const SOCKET_CLAIMS_HEADER = "x-edge-chat-claims";

/** A room's members, roles and blocks as PostgreSQL holds them at `version`. */
export interface RoomSnapshot {
  room_id: string;
  version: number;
  type: "direct" | "group";
  /** false once the room is deleted or cleaned up */
  active: boolean;
  /**
   * The group's name (null for a direct room), for the room's push notifications. Absent from an
   * older sender: the room keeps the name it had.
   */
  name?: string | null;
  /**
   * Set only on the push of the API request that created the room (or revived a never-used direct
   * room): it has no seq anywhere, so an object starting without storage need not ask PostgreSQL
   * and the archive where its sequence stands (chat-room/recovery.ts). Every other start asks.
   */
  created?: boolean;
  /**
   * `hidden`: the member hid the room (PATCH /rooms/:id/me); it sends them no activity or push unless they are mentioned.
   * `muted`: the member muted the room (PATCH /rooms/:id/me); activity as usual, no push unless they are mentioned.
   * `can_mention_all`: may send `mention_all` (absent from an older sender: owners and admins may).
   * `can_delete_any`: may delete other members' messages (absent from an older sender: owners and admins may).
   */
  members: Array<{
    user_id: string;
    role: RoleName;
    can_send: boolean;
    can_mention_all?: boolean;
    can_delete_any?: boolean;
    joined_at: string;
    hidden?: boolean;
    muted?: boolean;
  }>;
  /** [blocker, blocked] pairs between members: in a direct room a block stops both directions */
  blocks: Array<[string, string]>;
}

export interface SyncResult {
  applied: boolean;
  version: number;
}

/** A room as one member sees it: the per-room cache behind GET /v1/rooms. */
export interface RoomSummary {
  room_id: string;
  last_seq: number;
  read_seq: number;
  last_message: Message | null;
}

/** Sent by a room to a member's session: something happened that a device without the room's stream should hear. */
export interface ActivityEvent {
  room_id: string;
  last_seq: number;
  read_seq: number;
  message?: Message;
  mentioned?: boolean;
  /** devices of this user that hold the room's stream and heard it there */
  stream_devices: string[];
}

export interface ActivityAnswer {
  /** whether the session still holds a socket; false makes the room unsubscribe it and push instead */
  online: boolean;
}

/** `settings`: the user's own muted/hidden of the room changed (PATCH /rooms/:id/me), told to that user only */
export type RoomEvent = "created" | "member_added" | "member_removed" | "updated" | "settings";
export type PresenceStatus = "online" | "offline";
