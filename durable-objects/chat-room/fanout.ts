// Who hears about newly stored messages, and how. Pure: the room's class only carries the plan out.
//   - every open stream gets the message frames (that is the broadcast, not planned here);
//   - members with a stream have it delivered (delivered_seq), recorded in one write;
//   - subscribed members (their session is online) get one `activity` per batch, carrying the
//     devices that already saw it on a stream so the session skips those;
//   - members neither subscribed nor streaming are offline: one push request per message;
//   - a member who hid the room hears of it (activity, push) only from messages that mention them.
import type { Message } from "../../protocol/index.js";

export interface FanoutMember {
  user_id: string;
  subscribed: boolean;
  hidden?: boolean;
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
    const mentioned = batch.some((msg) => mentions(msg, m.user_id));
    if (m.hidden && !mentioned) continue;
    if (m.subscribed) {
      plan.activity.push({ user_id: m.user_id, stream_devices: [...(devices ?? [])], mentioned });
    } else if (!devices?.length) {
      offline.push(m.user_id);
    }
  }
  if (offline.length) {
    const hidden = new Set(members.filter((m) => m.hidden).map((m) => m.user_id));
    for (const msg of batch) {
      // a hidden room pushes only the messages that mention the member
      const recipients = offline.filter((id) => id !== msg.sender_id && (!hidden.has(id) || mentions(msg, id)));
      if (recipients.length)
        plan.push.push({ seq: msg.seq, recipients, mentioned: recipients.filter((id) => mentions(msg, id)) });
    }
  }
  return plan;
}
