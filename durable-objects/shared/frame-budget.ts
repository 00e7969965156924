// Every frame a socket sends costs the object a wake and some work, whatever it is (a send, a
// `read`, `typing`, an `auth`, a ping with an id; only the exact ping the runtime answers itself
// is free). Each socket spends from its own bucket; a frame over budget is answered with
// `rate_limited` and does nothing. Refusals spend from a second, slower bucket: a client that
// keeps sending past its budget (it ignores retry_after_ms) runs that dry too and is closed.
//
// The buckets live in memory, keyed by the socket. After the object wakes from hibernation each
// socket starts with a full budget again: an object only hibernates when its sockets are quiet,
// so a flood cannot use that to refill.
import { TokenBucket, type BucketConfig } from "./token-bucket.js";

export type FrameVerdict = { ok: true } | { ok: false; retryAfterMs: number; close: boolean };

export class FrameBudget<K extends object = WebSocket> {
  private readonly budgets = new WeakMap<K, { frames: TokenBucket; strikes: TokenBucket }>();
  private readonly strikeConfig: BucketConfig;

  constructor(private readonly config: BucketConfig) {
    // refused frames are forgiven at the frame rate: a client that sends at up to twice its budget
    // is only slowed down, one that floods beyond that is closed within a few seconds
    this.strikeConfig = { perSecond: config.perSecond, burst: config.burst };
  }

  spend(socket: K, now: number): FrameVerdict {
    let b = this.budgets.get(socket);
    if (!b) {
      b = { frames: new TokenBucket(this.config, now), strikes: new TokenBucket(this.strikeConfig, now) };
      this.budgets.set(socket, b);
    }
    const wait = b.frames.take(now);
    if (wait === 0) return { ok: true };
    return { ok: false, retryAfterMs: wait, close: b.strikes.take(now) > 0 };
  }
}
