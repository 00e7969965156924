// WebSocket frames of protocol v1 (PROTOCOL.md): what clients may send on a room stream or the
// session socket, and what the server sends back. Every client frame is checked against these
// before it can change anything.
import { z } from "zod";
import { Id, withinCodePoints, withinUtf8Bytes } from "./http.js";

export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_BODY_CODE_POINTS = 4000;
export const MAX_BODY_BYTES = 16 * 1024;
export const MAX_MENTIONS = 100;
export const MAX_ATTACHMENTS = 10;
export const MAX_WATCHED_USERS = 200;
export const MAX_REPLAY = 500;
export const HISTORY_PAGE_MAX = 100;
/** the exact bytes the runtime answers without waking the object */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

const frameId = z.string().min(1).max(64).optional();

export const ClientMessageId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_\-:.]+$/, "may contain only letters, digits and - _ : .");

export const MessageBody = z
  .string()
  .refine((s) => withinCodePoints(s, MAX_BODY_CODE_POINTS), `body must be at most ${MAX_BODY_CODE_POINTS} characters`)
  .refine((s) => withinUtf8Bytes(s, MAX_BODY_BYTES), `body must be at most ${MAX_BODY_BYTES} bytes of UTF-8`);

export const Attachment = z.strictObject({
  id: z.string().min(1).max(128),
  url: z.url({ protocol: /^https?$/ }).max(2048),
  mime: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type"),
  size: z
    .number()
    .int()
    .min(0)
    .max(10 * 1024 ** 3),
  name: z.string().min(1).max(255),
});
export type Attachment = z.infer<typeof Attachment>;
/**
 * What a client may attach from now on: https only (a plain-http link leaks what the member opens
 * and can be rewritten on the way). Stored and archived messages keep the wider `Attachment`.
 */
export const SendAttachment = Attachment.extend({
  url: z.url({ protocol: /^https$/, message: "must be an https: URL" }).max(2048),
});

export const SendFrame = z
  .strictObject({
    type: z.literal("send"),
    id: frameId,
    room_id: Id,
    client_message_id: ClientMessageId,
    body: MessageBody,
    mentions: z.array(Id).max(MAX_MENTIONS).optional(),
    mention_all: z.boolean().optional(),
    reply_to_seq: z.number().int().positive().optional(),
    attachments: z.array(SendAttachment).max(MAX_ATTACHMENTS).optional(),
  })
  .refine(
    (f) => f.body.trim().length > 0 || (f.attachments?.length ?? 0) > 0,
    "a message needs a body or an attachment",
  );

export const ReadFrame = z.strictObject({
  type: z.literal("read"),
  id: frameId,
  room_id: Id,
  seq: z.number().int().min(0),
});
export const TypingFrame = z.strictObject({ type: z.literal("typing"), id: frameId, room_id: Id });
export const AuthFrame = z.strictObject({
  type: z.literal("auth"),
  id: frameId,
  access_token: z.string().min(1).max(4096),
});
export const PingFrame = z.strictObject({ type: z.literal("ping"), id: frameId });
export const WatchPresenceFrame = z.strictObject({
  type: z.literal("watch_presence"),
  id: frameId,
  user_ids: z.array(Id).max(MAX_WATCHED_USERS),
});

/**
 * Edit and delete (issue 11). A sender edits the body of their own message; a sender deletes
 * their own, and roles with `can_delete_any` (owner and admins by default) anyone's. Neither takes
 * a seq: each takes the room's next `rev` (a change cursor beside seq), so unread counts and the
 * gap-free order of seqs stay as they are. `op_id` is made once by the client and reused on every
 * retry: an op the room has already applied answers its original `op_ack` with `duplicate: true`.
 */
export const OpId = ClientMessageId;
export const EditFrame = z.strictObject({
  type: z.literal("edit"),
  id: frameId,
  room_id: Id,
  seq: z.number().int().positive(),
  op_id: OpId,
  body: MessageBody.refine((s) => s.trim().length > 0, "an edit needs a body (delete the message instead)"),
});
export const DeleteFrame = z.strictObject({
  type: z.literal("delete"),
  id: frameId,
  room_id: Id,
  seq: z.number().int().positive(),
  op_id: OpId,
});

export const RoomClientFrame = z.discriminatedUnion("type", [
  SendFrame,
  ReadFrame,
  TypingFrame,
  AuthFrame,
  PingFrame,
  EditFrame,
  DeleteFrame,
]);
export const SessionClientFrame = z.discriminatedUnion("type", [WatchPresenceFrame, AuthFrame, PingFrame]);
export type SendFrame = z.infer<typeof SendFrame>;
export type EditFrame = z.infer<typeof EditFrame>;
export type DeleteFrame = z.infer<typeof DeleteFrame>;
export type RoomClientFrame = z.infer<typeof RoomClientFrame>;
export type SessionClientFrame = z.infer<typeof SessionClientFrame>;

export interface Message {
  room_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  client_message_id: string;
  body: string;
  mentions: string[];
  mention_all: boolean;
  reply_to_seq?: number;
  attachments?: Attachment[];
  created_at: string;
  /**
   * Absent for a message as sent. `edited`: `body` is the latest edit; `deleted`: `body` is "" and
   * there are no attachments or mentions (everywhere: streams, history, archive, room lists, push).
   */
  status?: "edited" | "deleted";
  /** when the latest edit or delete happened */
  updated_at?: string;
  /** the room's change cursor at the latest edit or delete (streams take `after_rev`) */
  rev?: number;
}

export type ServerFrame =
  | ({ type: "message" } & Message)
  /**
   * The replay is done; live frames follow. `last_rev`: the room's change cursor (resume with
   * `after_rev` = it). `updates_has_more`: more messages changed after your `after_rev` than the
   * replay sends (at most MAX_REPLAY `update` frames, the newest): reload the messages you hold.
   */
  | {
      type: "synced";
      room_id: string;
      last_seq: number;
      has_more: boolean;
      last_rev?: number;
      updates_has_more?: boolean;
    }
  | {
      type: "ack";
      room_id: string;
      client_message_id: string;
      seq: number;
      message_id: string;
      created_at: string;
      duplicate?: boolean;
    }
  | { type: "receipt"; room_id: string; user_id: string; read_seq?: number; delivered_seq?: number }
  | {
      type: "receipts";
      room_id: string;
      offsets: Array<{ user_id: string; read_seq?: number; delivered_seq?: number }>;
    }
  | { type: "typing"; room_id: string; user_id: string }
  /**
   * A message changed (edited or deleted): `message` is its current version, `rev` the room's
   * change cursor after it. Live on every stream, and replayed on open for the changes after the
   * stream's `after_rev` to messages at or below the replay's start.
   */
  | { type: "update"; room_id: string; rev: number; message: Message }
  /** an edit or delete of yours was applied (or had been: `duplicate`) */
  | { type: "op_ack"; room_id: string; op_id: string; seq: number; rev: number; duplicate?: boolean }
  | {
      type: "activity";
      room_id: string;
      last_seq: number;
      unread_count: number;
      message?: Message;
      mentioned?: boolean;
    }
  | { type: "read_sync"; room_id: string; read_seq: number }
  | { type: "presence"; user_id: string; status: "online" | "offline"; last_seen_at?: string }
  /** `settings`: your muted/hidden of the room changed (on another device, say): GET /v1/rooms has them */
  | { type: "room"; room_id: string; event: "created" | "member_added" | "member_removed" | "updated" | "settings" }
  | { type: "error"; code: string; message: string; ref?: string; retry_after_ms?: number }
  | { type: "pong" }
  /**
   * The server is closing this socket with `code` (README: close codes). Sent just before the
   * close: answer it with your own close (`ws.close(code, reason)`), which completes at once;
   * the server closes the socket itself a second later. Nothing else arrives after it.
   */
  | { type: "closing"; code: number; reason: string };
