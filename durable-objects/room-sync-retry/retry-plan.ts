// When a room's membership push has failed, what the durable retry does next. The change is
// committed in PostgreSQL; the room's copy may be behind it, and a removed member may still read
// there until the room catches up. So the retry keeps going from its own alarm (not from a
// request's waitUntil, which ends with the request) with capped exponential backoff, until the
// room answers a version at or past the one that failed.

export interface RetryState {
  room_id: string;
  /** the version that must reach the room; null: not known (the snapshot could not be read), reload whatever is current */
  version: number | null;
  /** attempts made so far */
  attempt: number;
  /** when the next attempt is due (ms since epoch) */
  due_at: number;
  first_failed_at: number;
}

export const FIRST_DELAY_MS = 1000;
export const MAX_DELAY_MS = 5 * 60_000;
/** after a day of failures the room is left to the operators (a loud log each time until then) */
export const GIVE_UP_AFTER_MS = 24 * 3600_000;

/** Delay before attempt `attempt + 1`: 1 s, 2 s, 4 s, … capped at 5 minutes, with ±20 % jitter. */
export function delayAfter(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 20));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Another failed push for the same room joins the pending retry: the newer version wins, and it is due soon. */
export function schedule(current: RetryState | null, roomId: string, version: number | null, now: number): RetryState {
  if (!current) return { room_id: roomId, version, attempt: 0, due_at: now + FIRST_DELAY_MS, first_failed_at: now };
  const merged = current.version === null || version === null ? null : Math.max(current.version, version);
  return { ...current, version: merged, attempt: 0, due_at: Math.min(current.due_at, now + FIRST_DELAY_MS) };
}

export type Outcome = { ok: true; version: number } | { ok: false; error: string };

/** Is the room done? null: nothing left to do (caught up, or given up); else the next state. */
export function afterAttempt(
  s: RetryState,
  outcome: Outcome,
  now: number,
  random?: () => number,
): { next: RetryState | null; gaveUp: boolean } {
  if (outcome.ok && (s.version === null || outcome.version >= s.version)) return { next: null, gaveUp: false };
  if (now - s.first_failed_at >= GIVE_UP_AFTER_MS) return { next: null, gaveUp: true };
  const attempt = s.attempt + 1;
  // a room that answered but is still behind (a newer change raced it) asks again soon too
  return { next: { ...s, attempt, due_at: now + delayAfter(attempt, random) }, gaveUp: false };
}
