// Per-sender rate limits. A bucket holds up to `burst` tokens and refills at `perSecond`; a send
// that finds no token is refused with the time until one will be there.
export interface BucketConfig {
  perSecond: number;
  burst: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly config: BucketConfig,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when allowed (and a token taken), else milliseconds to wait. */
  take(key: string, now: number = Date.now(), cost = 1): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evictFull(now);
      b = { tokens: this.config.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.config.burst, b.tokens + ((now - b.at) / 1000) * this.config.perSecond);
    b.at = now;
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - b.tokens) / this.config.perSecond) * 1000);
  }

  // Buckets that have refilled completely carry no information; dropping them bounds memory.
  private evictFull(now: number) {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.config.perSecond >= this.config.burst) this.buckets.delete(k);
    }
  }
}
