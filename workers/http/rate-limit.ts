// Rate limits on the requests that cost: each limit counts per key (an IP, a user) in that key's
// RateLimiter object (durable-objects/rate-limiter), never in this isolate's memory, which the
// next request may not share. Each rule is two wrangler.toml [vars], `<NAME>_RATE_PER_MINUTE`
// and `<NAME>_BURST`, so benchmarks can lift them as they lift SEND_RATE_PER_SECOND.
import type { Context } from "hono";
import { decimalNumber, wholeNumber, type ConfigEnv } from "../../lib/config/index.js";
import type { BucketConfig } from "../../durable-objects/shared/token-bucket.js";
import type { AppBindings, Env } from "../env.js";
import { rateLimited } from "./errors.js";

interface LimitSpec {
  /** prefix of the two [vars] */
  vars: string;
  perMinute: number;
  burst: number;
  /** ends "too many … ; try again later" */
  what: string;
}

// Defaults sized for one person (or one NAT's worth of people, for the per-IP one) using a client
// normally; a burst covers start-up (tickets for the rooms on screen, a group made from a list).
export const RATE_LIMITS = {
  register: { vars: "REGISTER", perMinute: 2, burst: 10, what: "accounts registered from this address" },
  ticket: { vars: "TICKET", perMinute: 120, burst: 60, what: "connect tickets" },
  room_create: { vars: "ROOM_CREATE", perMinute: 10, burst: 20, what: "rooms created" },
  member_add: { vars: "MEMBER_ADD", perMinute: 30, burst: 30, what: "member additions" },
  friend_add: { vars: "FRIEND_ADD", perMinute: 30, burst: 50, what: "friend additions" },
  user_search: { vars: "USER_SEARCH", perMinute: 60, burst: 30, what: "user searches" },
  // a push token registered by another user moves to the caller: a person switching accounts on a
  // shared device now and then, not a stream (each move takes another user's notifications away)
  device_move: { vars: "DEVICE_MOVE", perMinute: 2, burst: 10, what: "push tokens taken over from other accounts" },
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof RATE_LIMITS;

/** The bucket a limit runs with under these [vars]; a bad value throws (lib/config). */
export function rateRule(env: ConfigEnv, name: LimitName): BucketConfig {
  const spec: LimitSpec = RATE_LIMITS[name];
  const perMinute = decimalNumber(env, `${spec.vars}_RATE_PER_MINUTE`, { default: spec.perMinute, min: 0.001 });
  return { perSecond: perMinute / 60, burst: wholeNumber(env, `${spec.vars}_BURST`, { default: spec.burst, min: 1 }) };
}

/** The object a key's limit lives in: one per (limit, key), so no key's traffic queues behind another's. */
export function limiterName(name: LimitName, key: string): string {
  return `${name}:${key}`;
}

/**
 * One RPC to the key's object; throws 429 rate_limited with retry_after_ms when the bucket is empty.
 * No location hint: an object is created near the first request for its key, which for a user's
 * key is near that user, and one key's requests rarely come from two continents at once.
 */
export async function enforceRateLimit(c: Context<AppBindings>, name: LimitName, key: string): Promise<void> {
  const env: Env = c.env;
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(limiterName(name, key)));
  const waitMs = await stub.take(rateRule(env as unknown as ConfigEnv, name));
  if (waitMs > 0) throw rateLimited(`too many ${RATE_LIMITS[name].what}; try again later`, waitMs);
}
