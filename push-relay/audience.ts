// Who hears of which messages of a batch, decided in memory so the store writes the result in a few
// bulk statements whatever the room's size. The rules: never your own message; a member who muted
// or hid the room (quiet) hears only of messages that mention them (or @all); nothing at or below
// the member's read offset (a read that arrived before a late message batch); nothing from before
// they joined the room.
import type { PushMessage } from "../protocol/push.js";

export interface Candidate {
  user_id: string;
  /** muted or hid the room */
  quiet: boolean;
  /**
   * chat_members.joined_seq: the room's last seq when they joined, so only later messages are
   * theirs (0: a first member); null until the room records it
   */
  joined_seq?: number | null;
  /** when they joined (ms), which says it while joined_seq is null: messages created before are not theirs */
  joined_ms?: number | null;
}

/** A message from before the member joined is none of theirs. */
function before(c: Candidate, m: Pick<PushMessage, "seq" | "created_at">): boolean {
  if (c.joined_seq != null) return m.seq <= c.joined_seq;
  return c.joined_ms != null && Date.parse(m.created_at) < c.joined_ms;
}

/** one recipient's notification of the room after this batch */
export interface Planned {
  user_id: string;
  /** the latest message they hear of, whose preview the banner shows */
  seq: number;
  sender_id: string;
  preview: string;
  /** messages of this batch they hear of */
  count: number;
  mentioned: boolean;
}

export function planNotifications(
  messages: readonly PushMessage[],
  candidates: readonly Candidate[],
  readSeqs: ReadonlyMap<string, number> = new Map(),
): Planned[] {
  const ordered = [...messages]
    .sort((a, b) => a.seq - b.seq)
    .map((m) => ({ ...m, sender: m.sender_id.toLowerCase(), named: new Set(m.mentions.map((u) => u.toLowerCase())) }));
  const seen = new Set<string>();
  const out: Planned[] = [];
  for (const c of candidates) {
    const user = c.user_id.toLowerCase();
    if (seen.has(user)) continue;
    seen.add(user);
    const readSeq = readSeqs.get(user) ?? 0;
    let plan: Planned | undefined;
    for (const m of ordered) {
      if (m.sender === user || m.seq <= readSeq || before(c, m)) continue;
      const mentioned = m.mention_all || m.named.has(user);
      if (c.quiet && !mentioned) continue;
      plan ??= { user_id: user, seq: 0, sender_id: "", preview: "", count: 0, mentioned: false };
      plan.seq = m.seq;
      plan.sender_id = m.sender;
      plan.preview = m.preview;
      plan.count += 1;
      plan.mentioned ||= mentioned;
    }
    if (plan) out.push(plan);
  }
  // one lock order for every writer of these rows: concurrent batches never deadlock on them
  return out.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
}
