// Who hears about newly stored messages, and how. Pure: the room's class only carries the plan out.
//   - every open stream gets the message frames (that is the broadcast, not planned here);
//   - members with a stream have it delivered (delivered_seq), recorded in one write;
//   - subscribed members (their session is online) get one `activity` per batch, carrying the
//     devices that already saw it on a stream so the session skips those;
//   - members neither subscribed nor streaming are offline: one push request per message.
import type { Message } from "../../protocol/index.js";

export interface FanoutMember {
  user_id: string;
  subscribed: boolean;
}

export interface FanoutPlan {
  delivered: string[];
  activity: Array<{ user_id: string; stream_devices: string[]; mentioned: boolean }>;
  push: Array<{ seq: number; recipients: string[]; mentioned: string[] }>;
}

export function mentions(message: Pick<Message, "mentions" | "mention_all" | "sender_id">, userId: string): boolean {
  return userId !== message.sender_id && (message.mention_all || message.mentions.includes(userId));
}

export function planFanout(
  members: readonly FanoutMember[],
  streamDevices: ReadonlyMap<string, readonly string[]>,
  batch: readonly Message[],
): FanoutPlan {
  const plan: FanoutPlan = { delivered: [], activity: [], push: [] };
  if (batch.length === 0) return plan;
  const offline: string[] = [];
  for (const m of members) {
    const devices = streamDevices.get(m.user_id);
    if (devices?.length) plan.delivered.push(m.user_id);
    if (m.subscribed) {
      plan.activity.push({
        user_id: m.user_id,
        stream_devices: [...(devices ?? [])],
        mentioned: batch.some((msg) => mentions(msg, m.user_id)),
      });
    } else if (!devices?.length) {
      offline.push(m.user_id);
    }
  }
  if (offline.length) {
    for (const msg of batch) {
      const recipients = offline.filter((id) => id !== msg.sender_id);
      if (recipients.length)
        plan.push.push({ seq: msg.seq, recipients, mentioned: recipients.filter((id) => mentions(msg, id)) });
    }
  }
  return plan;
}
