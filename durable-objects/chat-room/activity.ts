// Who hears of stored messages besides the streams, and how: online members without the room's
// stream get one `activity` through their session; a message offline members may want pushed goes
// into the push outbox (its seq; the flush decides who, push-batch.ts). The two places that find a
// member offline (the fan-out plan at commit, and a session answering "no socket") queue it here.
import type { ActivityAnswer, ActivityEvent, Message } from "../../protocol/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import { mentions, planFanout, quiet, type FanoutPlan } from "./fanout.js";
import { effectiveReadSeq, type MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

const ACTIVITY_PARALLELISM = 32;

export interface ActivityHost {
  meta(): RoomMeta | null;
  members(): readonly MemberState[];
  latestMessage(): Message | null;
  /** the devices of each user holding a stream here */
  streamDevices(): ReadonlyMap<string, readonly string[]>;
  transaction<T>(fn: () => T): T;
  /** queues a message for the push outbox (nothing when no relay is configured) */
  queuePush(seq: number, now: number): void;
  /** the push outbox has a new row (after the transaction that wrote it) */
  pushNoted(now: number): void;
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
    for (const seq of plan.push) this.host.queuePush(seq, now);
    return plan;
  }

  /**
   * Online members (user -> mentioned) hear of the room's latest message through their sessions.
   * `changeOnly`: it is not new, it was edited or deleted: their sessions refresh the copy their
   * room lists show, and nothing counts as delivered or pushed because of it.
   */
  notify(users: ReadonlyMap<string, boolean>, changeOnly = false): void {
    const meta = this.host.meta();
    const last = this.host.latestMessage();
    if (!meta || !last || users.size === 0) return;
    const streams = this.host.streamDevices();
    const targets = this.host.members().flatMap((m) => {
      const mentioned = users.get(m.user_id);
      if (mentioned === undefined || !m.subscribed) return [];
      return [{ member: m, mentioned, stream_devices: [...(streams.get(m.user_id) ?? [])] }];
    });
    this.host.waitUntil(this.send(meta.room_id, targets, last, changeOnly));
  }

  private async send(
    roomId: string,
    targets: Array<{ member: MemberState; mentioned: boolean; stream_devices: string[] }>,
    last: Message,
    changeOnly: boolean,
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
    if (changeOnly) {
      if (gone.length) this.host.transaction(() => gone.forEach((u) => this.host.unsubscribe(u)));
      return;
    }
    const now = this.host.clock();
    // A session with no socket left is unsubscribed (so presence needs no leases) and pushed to:
    // the message is queued again (once), and the flush finds them offline and not delivered.
    const pushFor = targets.filter(
      (t) =>
        gone.includes(t.member.user_id) &&
        t.member.user_id !== last.sender_id &&
        (!quiet(t.member) || mentions(last, t.member.user_id)),
    );
    this.host.transaction(() => {
      this.host.markDelivered(reached, last.seq);
      for (const u of gone) this.host.unsubscribe(u);
      if (pushFor.length) this.host.queuePush(last.seq, now);
    });
    if (pushFor.length) this.host.pushNoted(now);
    this.host.reportDelivered(last.sender_id, reached, last.seq);
  }
}
