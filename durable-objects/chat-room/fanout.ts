// Who hears about newly stored messages, and how. Pure: the room's class only carries the plan out.
//   - every open stream gets the message frames (that is the broadcast, not planned here);
//   - members with a stream have it delivered (delivered_seq), recorded in one write;
//   - subscribed members (their session is online) get one `activity` per batch, carrying the
//     devices that already saw it on a stream so the session skips those;
//   - a message some offline member (neither subscribed nor streaming, not its sender) may want
//     pushed enters the push outbox as its seq; who is pushed is decided at the flush, from the
//     room's state then (push-audience.ts), so the outbox holds one row per message, not per member;
//   - a member who hid the room hears of it (activity, push) only from messages that mention them;
//     one who muted it still gets activity, but is pushed only messages that mention them.
import type { Message } from "../../protocol/index.js";

export interface FanoutMember {
  user_id: string;
  subscribed: boolean;
  hidden?: boolean;
  muted?: boolean;
}

export interface FanoutPlan {
  delivered: string[];
  activity: Array<{ user_id: string; stream_devices: string[]; mentioned: boolean }>;
  /** seqs of the batch to queue for a push */
  push: number[];
}

export function mentions(message: Pick<Message, "mentions" | "mention_all" | "sender_id">, userId: string): boolean {
  return userId !== message.sender_id && (message.mention_all || message.mentions.includes(userId));
}

/** Muted or hidden: pushed only what mentions them. */
export const quiet = (m: Pick<FanoutMember, "hidden" | "muted">): boolean => Boolean(m.hidden || m.muted);

export function planFanout(
  members: readonly FanoutMember[],
  streamDevices: ReadonlyMap<string, readonly string[]>,
  batch: readonly Message[],
): FanoutPlan {
  const plan: FanoutPlan = { delivered: [], activity: [], push: [] };
  if (batch.length === 0) return plan;
  const offline: FanoutMember[] = [];
  // most batches mention nobody: then no member needs a look at each message (this loop runs for
  // every member of a 1,000-member room on every commit)
  const anyMention = batch.some((msg) => msg.mention_all || msg.mentions.length > 0);
  for (const m of members) {
    const devices = streamDevices.get(m.user_id);
    if (devices?.length) plan.delivered.push(m.user_id);
    const mentioned = anyMention && batch.some((msg) => mentions(msg, m.user_id));
    if (m.hidden && !mentioned) continue;
    if (m.subscribed) {
      plan.activity.push({ user_id: m.user_id, stream_devices: [...(devices ?? [])], mentioned });
    } else if (!devices?.length) {
      offline.push(m);
    }
  }
  for (const msg of batch) {
    const wanted = offline.some((m) => m.user_id !== msg.sender_id && (!quiet(m) || mentions(msg, m.user_id)));
    if (wanted) plan.push.push(msg.seq);
  }
  return plan;
}
