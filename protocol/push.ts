// The push contract between a ChatRoom's push outbox and the push-relay (snake_case JSON over
// HTTP, `Authorization: Bearer <PUSH_RELAY_SECRET>`). One request per room per flush window (at
// most one a second) carries the oldest messages waiting, as many as its bounds take (a longer
// backlog goes in the requests after), and names the audience once: the offline
// members themselves in rooms up to PUSH_AUDIENCE_LIST_MAX members, above that only the online
// members to leave out (the relay resolves the rest from chat_members). The relay refuses a batch
// whole when anything is malformed (400: the room parks it, a retry cannot fix it) and treats a
// batch_id it has already taken as done (200), so a room that lost the answer may resend.
import { z } from "zod";
import { MAX_MENTIONS } from "./frames.js";
import { Id } from "./http.js";
import { MAX_GROUP_MEMBERS } from "./limits.js";

export const PUSH_AUTH_SCHEME = "Bearer";
/** messages one batch may carry (a longer backlog goes, oldest first, in the batches after) */
export const PUSH_BATCH_MAX_MESSAGES = 100;
/** code points of a message preview; APNs and FCM payloads stay far under 4 KB with it */
export const PUSH_PREVIEW_MAX_CHARS = 200;
/** rooms up to this many members name the offline audience; larger ones name who to exclude */
export const PUSH_AUDIENCE_LIST_MAX = 100;
/** the relay's request body bound */
export const PUSH_BATCH_MAX_BYTES = 256 * 1024;
/** deleted seqs one batch may carry (a room with more sends them in the batches after) */
export const PUSH_BATCH_MAX_DELETES = 1000;

export const PushMessage = z.strictObject({
  seq: z.number().int().positive(),
  sender_id: Id,
  /** the first PUSH_PREVIEW_MAX_CHARS code points of the body ("" for attachments only) */
  preview: z.string().max(PUSH_PREVIEW_MAX_CHARS * 2),
  mentions: z.array(Id).max(MAX_MENTIONS),
  /** only set when the sender's role may mention everyone (the room checked it) */
  mention_all: z.boolean(),
  created_at: z.iso.datetime({ offset: true }),
});
export type PushMessage = z.infer<typeof PushMessage>;

export const PushAudience = z.discriminatedUnion("mode", [
  /**
   * `user_ids`: the members offline at flush (the senders of the batch excluded per message by the
   * relay); `quiet`: those of them who muted or hid the room, who hear only of messages that
   * mention them.
   */
  z.strictObject({
    mode: z.literal("only"),
    user_ids: z.array(Id).max(PUSH_AUDIENCE_LIST_MAX),
    quiet: z.array(Id).max(PUSH_AUDIENCE_LIST_MAX),
  }),
  /** every active member but these (online ones); muted and hidden come from chat_members */
  z.strictObject({ mode: z.literal("except"), user_ids: z.array(Id).max(MAX_GROUP_MEMBERS) }),
]);
export type PushAudience = z.infer<typeof PushAudience>;

/** a member's read offset moved (newest per user): their notifications of the room are read up to it */
export const PushRead = z.strictObject({ user_id: Id, read_seq: z.number().int().nonnegative() });
export type PushRead = z.infer<typeof PushRead>;

export const PushBatch = z
  .strictObject({
    batch_id: z.string().min(1).max(200),
    room_id: Id,
    room_type: z.enum(["direct", "group"]),
    room_name: z.string().max(200).nullable(),
    /** the room's highest seq when the batch was cut: unread = last_seq - read_seq */
    last_seq: z.number().int().nonnegative(),
    messages: z.array(PushMessage).max(PUSH_BATCH_MAX_MESSAGES),
    audience: PushAudience.nullable(),
    reads: z.array(PushRead).max(MAX_GROUP_MEMBERS),
    /**
     * Messages of the room deleted since the last batch: a notification showing one of them loses
     * its preview (it says "N new messages" instead, pending or already sent). Deleted messages
     * themselves are never in `messages`.
     */
    deleted_seqs: z.array(z.number().int().positive()).max(PUSH_BATCH_MAX_DELETES).optional(),
  })
  .refine((b) => b.messages.length === 0 || b.audience !== null, "messages need an audience")
  .refine((b) => b.messages.length > 0 || b.reads.length > 0 || (b.deleted_seqs?.length ?? 0) > 0, "an empty batch");
export type PushBatch = z.infer<typeof PushBatch>;

export const PushBatchAnswer = z.strictObject({
  batch_id: z.string(),
  /** notifications (recipient × room) created or updated */
  notifications: z.number().int().nonnegative(),
  duplicate: z.boolean().optional(),
});
export type PushBatchAnswer = z.infer<typeof PushBatchAnswer>;
