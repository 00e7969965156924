// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Bounded, because a provider's
// hint is advice for a backoff, not a reason to park a notification for days.

export const RETRY_AFTER_MAX_MS = 60 * 60_000;

export function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  let ms: number;
  if (/^\d+$/.test(raw)) ms = Number(raw) * 1000;
  else {
    // every HTTP-date form starts with a day name; Date.parse alone would take "-5" as a year
    if (!/^[A-Za-z]{3}/.test(raw)) return undefined;
    const at = Date.parse(raw);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS);
}
