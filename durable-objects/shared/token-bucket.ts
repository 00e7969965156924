// Rate limits. A bucket holds up to `burst` tokens and refills at `perSecond`; a take that finds
// too few tokens is refused with the time until they will be there.
export interface BucketConfig {
  perSecond: number;
  burst: number;
}

/** One bucket (a socket's frame budget, an object's replay bytes); starts full. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly config: BucketConfig,
    now: number,
  ) {
    this.tokens = config.burst;
    this.at = now;
  }

  /** 0 when allowed (and the tokens taken), else milliseconds until `cost` tokens are there. */
  take(now: number, cost = 1): number {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - this.tokens) / this.config.perSecond) * 1000);
  }

  /** What may be taken now, without taking it. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Whether it has refilled completely (and so carries no information). */
  full(now: number): boolean {
    return this.available(now) >= this.config.burst;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.config.burst, this.tokens + ((now - this.at) / 1000) * this.config.perSecond);
      this.at = now;
    }
  }
}

/** Buckets by key (per sender), at most `maxKeys` of them. */
export class TokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly config: BucketConfig,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when allowed (and a token taken), else milliseconds to wait. */
  take(key: string, now: number = Date.now(), cost = 1): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evictFull(now);
      b = new TokenBucket(this.config, now);
      this.buckets.set(key, b);
    }
    return b.take(now, cost);
  }

  // Buckets that have refilled completely carry no information; dropping them bounds memory.
  private evictFull(now: number) {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
  }
}
