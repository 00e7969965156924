// When a device whose provider said "try again later" is tried next. Full jitter spreads the
// retries of a burst (a provider's 5xx hits every notification of a round at once) over the whole
// window instead of sending them back together.
export interface BackoffRule {
  /** the first retry's mean delay; the window doubles per try */
  baseMs: number;
  /** the same for a provider quota: quotas recover slowly, hammering them extends the refusal */
  quotaBaseMs: number;
  /** the widest window */
  capMs: number;
}

/**
 * The delay before the next try after `tries` tries (1 after the first failure): uniform in
 * [0, 2·base·2^(tries-1)), capped, so its mean starts at `base`; never below the provider's
 * Retry-After.
 */
export function retryDelayMs(
  rule: BackoffRule,
  tries: number,
  o: { quota?: boolean; retryAfterMs?: number } = {},
  random: () => number = Math.random,
): number {
  const base = o.quota ? rule.quotaBaseMs : rule.baseMs;
  const window = Math.min(rule.capMs, 2 * base * 2 ** Math.max(0, tries - 1));
  const jittered = Math.floor(random() * window);
  return Math.max(jittered, Math.ceil(o.retryAfterMs ?? 0));
}
