// A rate limit's key (one IP's registrations, one user's tickets, ...) in an object of its own:
// every edge isolate that serves the key asks the same object, so the limit holds across
// isolates and locations, which a per-isolate map cannot promise.
import { DurableObject } from "cloudflare:workers";
import type { BucketConfig } from "../shared/token-bucket.js";
import { Limiter, type StoredBucket } from "./limiter.js";

const KEY = "bucket";

export class RateLimiter extends DurableObject<unknown> {
  private readonly limiter: Limiter;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    const kv = ctx.storage.kv;
    this.limiter = new Limiter({
      load: () => kv.get<StoredBucket>(KEY),
      save: (b) => kv.put(KEY, b),
      clear: () => void ctx.storage.deleteAll(),
      wakeAt: (at) => void ctx.storage.setAlarm(at),
    });
  }

  /** 0 when allowed, else the milliseconds to wait. One RPC per limited request. */
  take(config: BucketConfig, cost = 1): number {
    return this.limiter.take(config, Date.now(), cost);
  }

  override async alarm(): Promise<void> {
    this.limiter.onAlarm(Date.now());
  }
}
