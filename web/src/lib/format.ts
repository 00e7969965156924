// How times, previews and names read in the app. Locale and time zone are parameters (the app
// passes the browser's), so the tests pin them.
import type { Message } from "../../../protocol/index.js";

export interface Clock {
  now: Date;
  locale?: string;
  timeZone?: string;
}

const dayKey = (d: Date, tz?: string) =>
  new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);

/** "14:05" today, "Mon 14:05" in the last six days, "3 Mar" this year, "3 Mar 2025" before. */
export function timeLabel(iso: string, clock: Clock): string {
  const d = new Date(iso);
  const { now, locale, timeZone } = clock;
  const time = new Intl.DateTimeFormat(locale, { timeZone, hour: "2-digit", minute: "2-digit", hour12: false });
  if (dayKey(d, timeZone) === dayKey(now, timeZone)) return time.format(d);
  const ageMs = now.getTime() - d.getTime();
  if (ageMs > 0 && ageMs < 6 * 86_400_000) {
    const weekday = new Intl.DateTimeFormat(locale, { timeZone, weekday: "short" }).format(d);
    return `${weekday} ${time.format(d)}`;
  }
  const sameYear =
    new Intl.DateTimeFormat("en", { timeZone, year: "numeric" }).format(d) ===
    new Intl.DateTimeFormat("en", { timeZone, year: "numeric" }).format(now);
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(d);
}

/** The full date and time, for a tooltip and a <time> element's title. */
export function fullTime(iso: string, clock: Omit<Clock, "now">): string {
  return new Intl.DateTimeFormat(clock.locale, {
    timeZone: clock.timeZone,
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

/** What a message shows where there is room for one line: the room list, a notification. */
export function messageText(m: Pick<Message, "body" | "status" | "attachments">): string {
  if (m.status === "deleted") return "Message deleted";
  const body = m.body.replace(/\s+/g, " ").trim();
  if (body) return body;
  const n = m.attachments?.length ?? 0;
  return n === 1 ? "1 attachment" : n > 1 ? `${n} attachments` : "";
}

/** The room list's preview line: "You: …" for one's own, "Name: …" in a group, the text alone in a direct room. */
export function previewLine(
  m: Pick<Message, "body" | "status" | "attachments" | "sender_id">,
  opts: { meId: string; group: boolean; nameOf: (id: string) => string },
  max = 80,
): string {
  const text = messageText(m);
  const who = m.sender_id === opts.meId ? "You" : opts.group ? opts.nameOf(m.sender_id) : "";
  const line = who && m.status !== "deleted" ? `${who}: ${text}` : text;
  const chars = [...line];
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : line;
}

/** Two letters for an avatar: the first letters of the first two words, or the first two letters. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [[...words[0]!][0], [...words[1]!][0]] : [...(words[0] ?? "?")].slice(0, 2);
  return letters.join("").toUpperCase();
}
