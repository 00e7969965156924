// What a send carries, made safe to store and to fan out. A JS string may hold unpaired UTF-16
// surrogates (JSON's "\ud800" escape makes one); SQLite stores UTF-8, where they have no form,
// so a stored copy and the live one would differ: the live broadcast repeats the escape, the
// replayed copy comes back as U+FFFD (or not at all). Every text field is made well-formed
// (each unpaired surrogate becomes U+FFFD) before the send is stored, so the stored, the live and
// the replayed copies are the same bytes.
import type { SendFrame } from "../../protocol/index.js";

type WellFormed = { toWellFormed?: () => string };

/** `s` with every unpaired surrogate replaced by U+FFFD (String.prototype.toWellFormed where it exists). */
export function wellFormed(s: string): string {
  const native = (s as unknown as WellFormed).toWellFormed;
  if (native) return native.call(s);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    out += c >= 0xd800 && c <= 0xdfff ? "\ufffd" : s[i]!;
  }
  return out;
}

/** The send with its free-text fields well-formed (ids and mentions are ASCII by their schemas). */
export function normaliseSend(frame: SendFrame): SendFrame {
  return {
    ...frame,
    body: wellFormed(frame.body),
    ...(frame.attachments
      ? {
          attachments: frame.attachments.map((a) => ({
            ...a,
            id: wellFormed(a.id),
            url: wellFormed(a.url),
            name: wellFormed(a.name),
          })),
        }
      : {}),
  };
}
