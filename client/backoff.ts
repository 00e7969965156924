// Reconnect delays with "full jitter": a random delay between zero and a ceiling that doubles with
// every failed attempt (0.5 s, 1 s, 2 s … 20 s). When an outage ends, thousands of clients cut off
// by it come back spread over the ceiling instead of in step, which would knock the edge over again.
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 20_000;

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** [0, 1); tests pass their own */
  random?: () => number;
}

/** The delay before attempt `attempt` (0 for the first retry). */
export function fullJitter(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? BACKOFF_BASE_MS;
    this.maxMs = o.maxMs ?? BACKOFF_MAX_MS;
    this.random = o.random ?? Math.random;
  }

  /** failed attempts since the last reset */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    return fullJitter(this.attempt++, this.baseMs, this.maxMs, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
