// Fitting a banner into a provider's payload limit. Only the text a person reads is shortened (by
// whole code points, so no character is split, marked with "…"); the JSON around it is always
// whole, because a cut JSON document is a notification the provider or the device throws away.

export interface FittedAlert {
  title: string;
  body: string;
  /** what `encode(title, body)` gave for them: within the limit */
  encoded: string;
}

export const ELLIPSIS = "…";

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * The longest body (then, if even an empty body is too much, the longest title) for which
 * `encode(title, body)` is at most `maxBytes` UTF-8 bytes; undefined if nothing fits.
 */
export function fitAlert(
  title: string,
  body: string,
  maxBytes: number,
  encode: (title: string, body: string) => string,
): FittedAlert | undefined {
  const whole = encode(title, body);
  if (utf8Bytes(whole) <= maxBytes) return { title, body, encoded: whole };
  const cutBody = longestPrefix(body, (b) => encode(title, b), maxBytes);
  if (cutBody) return { title, body: cutBody.text, encoded: cutBody.encoded };
  const cutTitle = longestPrefix(title, (t) => encode(t, ""), maxBytes);
  return cutTitle && { title: cutTitle.text, body: "", encoded: cutTitle.encoded };
}

/** Binary search over code points: the encoded size only grows with the prefix's length. */
function longestPrefix(
  text: string,
  encode: (text: string) => string,
  maxBytes: number,
): { text: string; encoded: string } | undefined {
  const points = Array.from(text);
  const at = (n: number) => (n === 0 ? "" : points.slice(0, n).join("") + ELLIPSIS);
  let best: { text: string; encoded: string } | undefined;
  let lo = 0;
  let hi = points.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const candidate = at(mid);
    const encoded = encode(candidate);
    if (utf8Bytes(encoded) <= maxBytes) {
      best = { text: candidate, encoded };
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
