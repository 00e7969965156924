// Rate limits. A bucket holds up to `burst` tokens and refills at `perSecond`; a take that finds
// too few tokens is refused with the time until they will be there.
export interface BucketConfig {
  perSecond: number;
  burst: number;
}

export interface Bucket {
  tokens: number;
  /** when `tokens` was last brought up to date */
  at: number;
}

function refill(b: Bucket, config: BucketConfig, now: number): void {
  if (now > b.at) {
    b.tokens = Math.min(config.burst, b.tokens + ((now - b.at) / 1000) * config.perSecond);
    b.at = now;
  }
}

/** One bucket's take, on state the caller keeps (a map, a socket, a Durable Object's storage). */
export function takeFrom(b: Bucket, config: BucketConfig, now: number, cost = 1): number {
  refill(b, config, now);
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

/** One bucket in memory (a socket's frame budget, an object's replay bytes); starts full. */
export class TokenBucket {
  private readonly state: Bucket;

  constructor(
    private readonly config: BucketConfig,
    now: number,
  ) {
    this.state = { tokens: config.burst, at: now };
  }

  /** 0 when allowed (and the tokens taken), else milliseconds until `cost` tokens are there. */
  take(now: number, cost = 1): number {
    return takeFrom(this.state, this.config, now, cost);
  }

  /** What may be taken now, without taking it. */
  available(now: number): number {
    refill(this.state, this.config, now);
    return this.state.tokens;
  }

  /** Whether it has refilled completely (and so carries no information). */
  full(now: number): boolean {
    return this.available(now) >= this.config.burst;
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
