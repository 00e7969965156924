// The cursor of GET /v1/rooms: where the previous page ended in the list's order (latest activity
// first, then id). Activity is chat_rooms.updated_at in microseconds, as PostgreSQL keeps it, so
// two rooms a millisecond apart never swap or repeat across pages. Opaque to clients (base64url).
import { Id } from "../../protocol/index.js";
import { invalid } from "../http/errors.js";

export interface ListPosition {
  /** updated_at as microseconds since the epoch, a decimal string (beyond a double's exact range) */
  activityMicros: string;
  id: string;
}

const toBase64Url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromBase64Url = (s: string) => atob(s.replace(/-/g, "+").replace(/_/g, "/"));

export function encodeCursor(p: ListPosition): string {
  return toBase64Url(`${p.activityMicros}.${p.id}`);
}

/** The position a cursor names; a 400 for anything this API did not hand out. */
export function decodeCursor(cursor: string): ListPosition {
  let text: string;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("not base64url");
    text = fromBase64Url(cursor);
  } catch {
    throw invalid("cursor is not one this API handed out; start again without it");
  }
  const m = /^(\d{1,19})\.(.+)$/.exec(text);
  if (!m || !Id.safeParse(m[2]).success) throw invalid("cursor is not one this API handed out; start again without it");
  return { activityMicros: m[1]!, id: m[2]!.toLowerCase() };
}
