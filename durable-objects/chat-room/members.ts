// How a membership snapshot from PostgreSQL changes the room's own copy. Pure, so the rules
// (who joins at which seq, who keeps their offsets) are tested without a runtime.
import type { RoomSnapshot } from "../../protocol/index.js";

export interface MemberState {
  user_id: string;
  role: string;
  can_send: boolean;
  /** may send `mention_all`; unknown (a snapshot from before the permission): by role */
  can_mention_all?: boolean;
  /** may delete other members' messages; unknown (a snapshot from before the permission): by role */
  can_delete_any?: boolean;
  joined_at: string;
  joined_seq: number;
  read_seq: number;
  delivered_seq: number;
  subscribed: boolean;
  /** the member hid the room: no activity or push for them unless they are mentioned */
  hidden?: boolean;
  /** the member muted the room: activity as usual, no push unless they are mentioned */
  muted?: boolean;
  /** the newest seq a push batch that named them (or left them to the relay) carried; 0: none */
  pushed_seq?: number;
}

export interface MembershipPlan {
  upserts: MemberState[];
  removed: string[];
  /** joined now (or again, after leaving): they see messages after `last_seq` only */
  joined: string[];
}

export function planMembership(
  current: ReadonlyMap<string, MemberState>,
  snapshot: RoomSnapshot,
  lastSeq: number,
  initial: boolean,
): MembershipPlan {
  const upserts: MemberState[] = [];
  const joined: string[] = [];
  const seen = new Set<string>();
  for (const m of snapshot.members) {
    seen.add(m.user_id);
    const had = current.get(m.user_id);
    // a new joined_at means the member left and came back: history starts over for them
    if (!had || had.joined_at !== m.joined_at) {
      // members present when the room first learns of itself see the whole room
      const from = initial ? 0 : lastSeq;
      upserts.push({
        user_id: m.user_id,
        role: m.role,
        can_send: m.can_send,
        ...(m.can_mention_all !== undefined ? { can_mention_all: m.can_mention_all } : {}),
        ...(m.can_delete_any !== undefined ? { can_delete_any: m.can_delete_any } : {}),
        joined_at: m.joined_at,
        joined_seq: from,
        read_seq: from,
        delivered_seq: from,
        subscribed: had?.subscribed ?? false,
        hidden: m.hidden ?? false,
        muted: m.muted ?? false,
        pushed_seq: had?.pushed_seq ?? 0,
      });
      joined.push(m.user_id);
    } else if (
      had.role !== m.role ||
      had.can_send !== m.can_send ||
      had.can_mention_all !== m.can_mention_all ||
      had.can_delete_any !== m.can_delete_any ||
      (had.hidden ?? false) !== (m.hidden ?? false) ||
      (had.muted ?? false) !== (m.muted ?? false)
    ) {
      const { can_mention_all: _old, can_delete_any: _oldDelete, ...rest } = had;
      upserts.push({
        ...rest,
        role: m.role,
        can_send: m.can_send,
        hidden: m.hidden ?? false,
        muted: m.muted ?? false,
        ...(m.can_mention_all !== undefined ? { can_mention_all: m.can_mention_all } : {}),
        ...(m.can_delete_any !== undefined ? { can_delete_any: m.can_delete_any } : {}),
      });
    }
  }
  const removed = [...current.keys()].filter((id) => !seen.has(id));
  return { upserts, removed, joined };
}

/** Where a member's reading stands: never before the point they joined at. */
export function effectiveReadSeq(m: Pick<MemberState, "read_seq" | "joined_seq">): number {
  return Math.max(m.read_seq, m.joined_seq);
}
