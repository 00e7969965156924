// Who hears of stored messages besides the streams, and how: online members without the room's
// stream get one `activity` through their session; offline members go into the push outbox. The
// two places that find a member offline (the fan-out plan at commit, and a session answering "no
// socket") write their push rows through `queuePush` here.
import type { ActivityAnswer, ActivityEvent, Message } from "../../protocol/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import { mentions, planFanout, type FanoutPlan } from "./fanout.js";
import { effectiveReadSeq, type MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

const ACTIVITY_PARALLELISM = 32;

export interface ActivityHost {
  meta(): RoomMeta | null;
  members(): readonly MemberState[];
  latestMessage(): Message | null;
  /** the devices of each user holding a stream here */
  streamDevices(): Map<string, string[]>;
  transaction<T>(fn: () => T): T;
  addPushRow(payload: { room_id: string; seq: number; recipients: string[]; mentioned: string[] }, now: number): void;
  markDelivered(userIds: readonly string[], seq: number): void;
  unsubscribe(userId: string): void;
  /** the member's session; it answers whether it still holds a socket */
  activity(userId: string, event: ActivityEvent): Promise<ActivityAnswer>;
  /** delivered offsets go to the sender (at once, or coalesced) */
  reportDelivered(sender: string, users: readonly string[], seq: number): void;
  waitUntil(p: Promise<unknown>): void;
  clock(): number;
}

export class ActivityPlanner {
  constructor(private readonly host: ActivityHost) {}

  /** Inside the commit's transaction: the fan-out of a batch, with the push rows of offline members. */
  planCommit(members: readonly MemberState[], stored: readonly Message[], now: number): FanoutPlan {
    const plan = planFanout(members, this.host.streamDevices(), stored);
    const roomId = this.host.meta()!.room_id;
    for (const p of plan.push) this.queuePush(roomId, p.seq, p.recipients, p.mentioned, now);
    return plan;
  }

  /** Online members (user -> mentioned) hear of the room's latest message through their sessions. */
  notify(users: ReadonlyMap<string, boolean>): void {
    const meta = this.host.meta();
    const last = this.host.latestMessage();
    if (!meta || !last || users.size === 0) return;
    const streams = this.host.streamDevices();
    const targets = this.host.members().flatMap((m) => {
      const mentioned = users.get(m.user_id);
      if (mentioned === undefined || !m.subscribed) return [];
      return [{ member: m, mentioned, stream_devices: streams.get(m.user_id) ?? [] }];
    });
    this.host.waitUntil(this.send(meta.room_id, targets, last));
  }

  private async send(
    roomId: string,
    targets: Array<{ member: MemberState; mentioned: boolean; stream_devices: string[] }>,
    last: Message,
  ): Promise<void> {
    if (targets.length === 0) return;
    const answers = await mapLimit(targets, ACTIVITY_PARALLELISM, (t) =>
      this.host.activity(t.member.user_id, {
        room_id: roomId,
        last_seq: last.seq,
        read_seq: effectiveReadSeq(t.member),
        message: last,
        mentioned: t.mentioned,
        stream_devices: t.stream_devices,
      }),
    );
    const reached: string[] = [];
    const gone: string[] = [];
    answers.forEach((a, i) => {
      const user = targets[i]!.member.user_id;
      if (a instanceof Error) console.warn(`activity to ${user} failed: ${a.message}`);
      else if (a.online) reached.push(user);
      else gone.push(user);
    });
    const now = this.host.clock();
    // a session with no socket left is unsubscribed (so presence needs no leases) and pushed to
    this.host.transaction(() => {
      this.host.markDelivered(reached, last.seq);
      for (const u of gone) this.host.unsubscribe(u);
      const offline = gone.filter((u) => u !== last.sender_id);
      this.queuePush(
        roomId,
        last.seq,
        offline,
        offline.filter((u) => mentions(last, u)),
        now,
      );
    });
    this.host.reportDelivered(last.sender_id, reached, last.seq);
  }

  private queuePush(roomId: string, seq: number, recipients: string[], mentioned: string[], now: number): void {
    if (recipients.length) this.host.addPushRow({ room_id: roomId, seq, recipients, mentioned }, now);
  }
}
