// One rate-limit key's bucket, kept by its RateLimiter object. Pure over a small host (the
// object's storage and alarm), so the rules are tested without a runtime.
import { fullAt, takeFrom, type Bucket, type BucketConfig } from "../shared/token-bucket.js";

/** What the object keeps: the bucket and the rule it was last taken under (for the alarm). */
export interface StoredBucket extends Bucket, BucketConfig {}

export interface LimiterHost {
  load(): StoredBucket | undefined;
  save(b: StoredBucket): void;
  /** forgets the key (its storage goes) */
  clear(): void;
  /** wakes onAlarm at `at` (ms since epoch), replacing any earlier wake */
  wakeAt(at: number): void;
}

export class Limiter {
  constructor(private readonly host: LimiterHost) {}

  /**
   * 0 when allowed (and `cost` taken), else milliseconds until it would be. A changed rule (a
   * redeploy with other [vars]) applies from this take on; the tokens already saved are kept,
   * capped at the new burst.
   */
  take(config: BucketConfig, now: number, cost = 1): number {
    const saved = this.host.load();
    const b: StoredBucket = saved ? { ...saved, ...config } : { tokens: config.burst, at: now, ...config };
    const wait = takeFrom(b, config, now, cost);
    this.host.save(b);
    if (!saved) this.host.wakeAt(fullAt(b, config));
    return wait;
  }

  /** A full bucket says nothing a fresh one would not: drop it, so idle keys cost no storage. */
  onAlarm(now: number): void {
    const b = this.host.load();
    if (!b) return;
    const full = fullAt(b, b);
    if (full <= now) this.host.clear();
    else this.host.wakeAt(full);
  }
}
