// Per-sender rate limits. A bucket holds up to `burst` tokens and refills at `perSecond`; a send
// that finds no token is refused with the time until one will be there.
export interface BucketConfig {
  perSecond: number;
  burst: number;
}

export interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date */
  at: number;
}

/** One bucket's take, on state the caller keeps (a map here, a Durable Object's storage elsewhere). */
export function takeFrom(b: Bucket, config: BucketConfig, now: number, cost = 1): number {
  b.tokens = Math.min(config.burst, b.tokens + ((now - b.at) / 1000) * config.perSecond);
  b.at = now;
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return 0;
  }
  return Math.ceil(((cost - b.tokens) / config.perSecond) * 1000);
}

/** When an untouched bucket is full again: from then on it carries no information. */
export function fullAt(b: Bucket, config: BucketConfig): number {
  return b.at + Math.ceil((Math.max(0, config.burst - b.tokens) / config.perSecond) * 1000);
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

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
    return takeFrom(b, this.config, now, cost);
  }

  // Buckets that have refilled completely carry no information; dropping them bounds memory.
  private evictFull(now: number) {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.config.perSecond >= this.config.burst) this.buckets.delete(k);
    }
  }
}
