// What a banner says. The previews are rendered once, when a batch is taken in (the sender's name
// is looked up then), and cut to bounds every provider's payload fits; a provider may shorten the
// body further to its own limit, never the JSON around it.
import { PUSH_PREVIEW_MAX_CHARS } from "../protocol/push.js";
import type { PushContent } from "./providers/types.js";

/** code points of a banner title (a room name or a display name) */
export const TITLE_MAX_CHARS = 100;
/** code points of a banner body: the preview with a group's "Sender: " in front */
export const BODY_MAX_CHARS = PUSH_PREVIEW_MAX_CHARS + 60;
const ELLIPSIS = "…";

/** At most `max` code points (a surrogate pair is never split), ending with "…" when it was cut. */
export function truncate(text: string, max: number): string {
  const points = Array.from(text);
  if (points.length <= max) return text;
  return points.slice(0, Math.max(0, max - 1)).join("") + ELLIPSIS;
}

/**
 * One key per room for every provider: apns-collapse-id (≤ 64 bytes), FCM collapse_key and tag, and
 * the Web Push Topic (≤ 32 base64url characters): the room id's 16 bytes in base64url (22 characters).
 */
export function collapseKeyFor(roomId: string): string {
  return Buffer.from(roomId.replace(/-/g, ""), "hex").toString("base64url");
}

export interface PreviewInput {
  roomType: "direct" | "group";
  roomName: string | null;
  senderName: string | null;
  preview: string;
}

const NO_TEXT = "Sent an attachment";
const SOMEONE = "Someone";

/** A group banner is the room's name over "Sender: text"; a direct one the sender's name over the text. */
export function renderPreview(p: PreviewInput): { title: string; body: string } {
  const sender = p.senderName?.trim() || SOMEONE;
  const text = p.preview.trim() ? p.preview : NO_TEXT;
  if (p.roomType === "direct")
    return { title: truncate(sender, TITLE_MAX_CHARS), body: truncate(text, BODY_MAX_CHARS) };
  const title = p.roomName?.trim() || sender;
  return { title: truncate(title, TITLE_MAX_CHARS), body: truncate(`${sender}: ${text}`, BODY_MAX_CHARS) };
}

export interface PendingNotice {
  room_id: string;
  seq: number;
  count: number;
  mentioned: boolean;
  collapse_key: string;
  /** null once retention cleared the preview */
  title: string | null;
  body: string | null;
}

/** What every device of the recipient is told about a (collapsed) notification. */
export function contentFor(n: PendingNotice, badge: number, ttlSeconds: number): PushContent {
  return {
    room_id: n.room_id,
    seq: n.seq,
    title: truncate(n.title ?? "New message", TITLE_MAX_CHARS),
    body: truncate(n.body ?? `${n.count} new message${n.count === 1 ? "" : "s"}`, BODY_MAX_CHARS),
    count: n.count,
    badge: Math.max(0, Math.floor(badge)),
    mentioned: n.mentioned,
    collapse_key: n.collapse_key,
    ttl_seconds: ttlSeconds,
  };
}
