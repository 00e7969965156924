// Mentions as people type and read them: "@handle" names a member, "@all" everyone. The composer
// turns them into the ids a send carries; the message view marks them where the message says so.
import type { Message } from "../../../protocol/index.js";

export interface Mentionable {
  user_id: string;
  handle: string;
}

// "@" at the start or after something that is not part of a handle (so "a@b.c" names nobody);
// a handle's letters, digits, "_" and "."; a sentence's full stop after it is not part of it
const MENTION = /(^|[^A-Za-z0-9_.@])@([A-Za-z0-9_.]*[A-Za-z0-9_])/g;

/** The members a text names and whether it says @all (in first-mention order, each once, never the writer). */
export function mentionsIn(
  text: string,
  members: readonly Mentionable[],
  writerId?: string,
): { mentions: string[]; mention_all: boolean } {
  const byHandle = new Map(members.map((m) => [m.handle.toLowerCase(), m.user_id]));
  const mentions: string[] = [];
  let mention_all = false;
  for (const m of text.matchAll(MENTION)) {
    const handle = m[2]!.toLowerCase();
    if (handle === "all") {
      mention_all = true;
      continue;
    }
    const id = byHandle.get(handle);
    if (id && id !== writerId && !mentions.includes(id)) mentions.push(id);
  }
  return { mentions, mention_all };
}

export type Segment = { text: string } | { text: string; mention: "all" | "me" | "other" };

/**
 * A message body cut into plain text and mentions to highlight. Only what the message itself
 * carries counts: "@bob" is marked when bob is in its `mentions`, "@all" when it has `mention_all`
 * (a typed "@x" that named nobody stays plain text).
 */
export function bodySegments(
  message: Pick<Message, "body" | "mentions" | "mention_all">,
  members: readonly Mentionable[],
  meId: string,
): Segment[] {
  const idOf = new Map(members.map((m) => [m.handle.toLowerCase(), m.user_id]));
  const out: Segment[] = [];
  let at = 0;
  for (const m of message.body.matchAll(MENTION)) {
    const start = m.index! + m[1]!.length;
    const handle = m[2]!.toLowerCase();
    const id = idOf.get(handle);
    const kind =
      handle === "all" && message.mention_all
        ? "all"
        : id && message.mentions.includes(id)
          ? id === meId
            ? "me"
            : "other"
          : null;
    if (!kind) continue;
    if (start > at) out.push({ text: message.body.slice(at, start) });
    const end = start + 1 + m[2]!.length;
    out.push({ text: message.body.slice(start, end), mention: kind });
    at = end;
  }
  if (at < message.body.length) out.push({ text: message.body.slice(at) });
  return out;
}

/** Whether a message calls this reader: named in it, or @all. */
export const mentionsMe = (message: Pick<Message, "mentions" | "mention_all">, meId: string): boolean =>
  message.mention_all || message.mentions.includes(meId);
