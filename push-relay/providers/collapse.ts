// One banner per room: every notification of a room carries the same collapse identifier, in
// each provider's own form and size limit, so a burst of messages updates one banner.
import { createHash } from "node:crypto";
import { utf8Bytes } from "./fit.js";

/** apns-collapse-id (and FCM's collapse_key / tag): at most 64 bytes */
export const COLLAPSE_ID_MAX_BYTES = 64;
/** the Web Push Topic header: at most 32 characters of the base64url alphabet (RFC 8030 §5.4) */
export const TOPIC_MAX_CHARS = 32;

function digest(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("base64url");
}

/** The key itself when it fits in 64 bytes, else a hash of it (43 characters, still one per key). */
export function collapseId(key: string): string {
  return utf8Bytes(key) <= COLLAPSE_ID_MAX_BYTES ? key : digest(key);
}

/** A Topic is a fixed alphabet and length, so it is always a hash: 192 bits are plenty per room. */
export function webPushTopic(key: string): string {
  return digest(key).slice(0, TOPIC_MAX_CHARS);
}
