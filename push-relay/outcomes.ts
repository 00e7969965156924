// What a provider's answer does. Written once for every provider (they only translate their own
// answers into an Outcome): a dead token is retired; a refusal that is our configuration's fault
// (wrong topic, sender id, credentials) pauses the provider and retires nothing, since one wrong
// setting would otherwise retire every token; a transient error is retried with backoff a bounded
// number of times and never retires.
import { PushOutcome } from "../db/index.js";
import { retryDelayMs, type BackoffRule } from "./backoff.js";
import type { Outcome } from "./providers/types.js";

export interface OutcomeRule extends BackoffRule {
  /** tries per device and notification, the first send included */
  maxTries: number;
}

export type DeviceAction =
  | { kind: "delivered"; recorded: boolean }
  | { kind: "retire"; reason: string }
  | { kind: "retry"; delayMs: number; reason: string }
  /** it asked for a retry but its tries are spent */
  | { kind: "give_up"; reason: string }
  | { kind: "pause"; reason: string }
  | { kind: "failed"; reason: string };

/** `tries`: this device's tries of this notification, this one included. */
export function actionFor(
  outcome: Outcome,
  tries: number,
  rule: OutcomeRule,
  random: () => number = Math.random,
): DeviceAction {
  switch (outcome.kind) {
    case "sent":
      return { kind: "delivered", recorded: false };
    case "recorded":
      return { kind: "delivered", recorded: true };
    case "retire":
      return { kind: "retire", reason: outcome.reason };
    case "config":
      return { kind: "pause", reason: outcome.reason };
    case "failed":
      return { kind: "failed", reason: outcome.reason };
    case "retry": {
      if (tries >= rule.maxTries) return { kind: "give_up", reason: outcome.reason };
      const delayMs = retryDelayMs(
        rule,
        tries,
        {
          ...(outcome.quota ? { quota: true } : {}),
          ...(outcome.retry_after_ms ? { retryAfterMs: outcome.retry_after_ms } : {}),
        },
        random,
      );
      return { kind: "retry", delayMs, reason: outcome.reason };
    }
  }
}

/** the push_delivery_logs.outcome of an attempt */
export function logCode(action: DeviceAction): number {
  switch (action.kind) {
    case "delivered":
      return action.recorded ? PushOutcome.recorded : PushOutcome.sent;
    case "retire":
      return PushOutcome.token_retired;
    case "retry":
      return PushOutcome.retry;
    case "pause":
      return PushOutcome.config_fault;
    case "give_up":
    case "failed":
      return PushOutcome.failed;
  }
}

export interface Decision {
  status: "pending" | "sent" | "failed";
  /** pending: when to look at it again */
  delayMs: number | null;
  failedReason: string | null;
}

/**
 * Where a notification stands after a round. Pending while any device waits: for a retry (the
 * latest of their backoffs, so no device is tried before its own), or for a paused provider (the
 * earliest pause end). Otherwise sent when any device ever took it, else failed with the reason.
 */
export function decide(o: {
  actions: readonly DeviceAction[];
  /** devices waiting for a paused provider: ms until it resumes */
  pauseWaitsMs: readonly number[];
  deliveredBefore: boolean;
  /** the reason when no device of this round says one (e.g. every device refused it earlier) */
  fallbackReason: string;
}): Decision {
  const retries = o.actions.flatMap((a) => (a.kind === "retry" ? [a.delayMs] : []));
  if (retries.length) return { status: "pending", delayMs: Math.max(...retries), failedReason: null };
  if (o.pauseWaitsMs.length)
    return { status: "pending", delayMs: Math.max(0, Math.min(...o.pauseWaitsMs)), failedReason: null };
  if (o.deliveredBefore || o.actions.some((a) => a.kind === "delivered"))
    return { status: "sent", delayMs: null, failedReason: null };
  const why = o.actions.find((a) => a.kind === "give_up" || a.kind === "failed" || a.kind === "retire");
  const reason =
    why?.kind === "give_up"
      ? `retries_spent: ${why.reason}`
      : why?.kind === "failed"
        ? `refused: ${why.reason}`
        : why?.kind === "retire"
          ? `token_retired: ${why.reason}`
          : o.fallbackReason;
  return { status: "failed", delayMs: null, failedReason: reason.slice(0, 500) };
}

/**
 * A provider's reason as a metric label: its code word ("BadDeviceToken", "UNREGISTERED", "503")
 * or "other", so a transport error's free text cannot grow the label set without bound.
 */
export function reasonLabel(reason: string): string {
  const word = /^[A-Za-z0-9_.-]{1,48}/.exec(reason.trim())?.[0];
  return word ?? "other";
}
