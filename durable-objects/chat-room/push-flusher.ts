// Hands the room's push outbox to the push-relay: at most one request a second per room, carrying
// the oldest messages waiting, as many as a batch's bounds take (push-batch.ts decides the messages
// and the audience, at the flush), and the read offsets that moved. A longer backlog (a relay
// outage in a busy room) goes out oldest first, one batch a second, nothing dropped.
//
// A backlog drains at the same one request a second, not faster: after an outage every room
// drains at once, and the window keeps the relay that just came back at the load it takes from
// busy rooms every day rather than a burst of all of them; and a hundred messages a second is
// more than a room sends for long (a member may send ten a second).
//
// Settled only on the relay's 200; a batch it calls malformed (400, 413) is parked loudly; anything else is retried with exponential backoff and full jitter, as
// the same batch (same rows, same batch_id, so a relay that took it but lost the answer says
// `duplicate`). A send never waits for any of this: it only queues a row, in its own transaction.
//
// A batch is a range of rows, every push row up to `cut`, claimed (its try counted) before the
// request leaves: rows queued meanwhile have higher ids and wait for the next batch, and a read
// offset replaces only one in no batch (outbox-store.ts), so a retried batch holds what it held.
import type { Message, PushBatch } from "../../protocol/index.js";
import { windowJitter, type TimedJob } from "../shared/alarm.js";
import { backoffMs } from "./outbox.js";
import type { PushClaim } from "./outbox-store.js";
import { buildPushBatch, DEFAULT_PUSH, type BuiltPushBatch, type PushMember, type PushSettings } from "./push-batch.js";
import type { PushAnswer } from "./push-client.js";
import type { RoomMeta } from "./store.js";

export interface PushFlusherHost {
  meta(): RoomMeta | null;
  /** null: no relay configured (and then nothing is queued either) */
  relay: { postBatch(batch: PushBatch): Promise<PushAnswer> } | null;
  outbox: {
    head(): { createdAt: number; nextAt: number; attempts: number } | null;
    /** the last row of the batch tried before (null: none) */
    retried(): number | null;
    /** the last row of a new batch of the oldest rows waiting, at most `maxMessages` messages */
    nextCut(maxMessages: number): number | null;
    /** the last row before `id` */
    cutBefore(id: number): number | null;
    claim(cut: number): PushClaim | null;
    rows(cut: number): {
      pushes: Array<{ id: number; seq: number }>;
      reads: Array<{ user_id: string; read_seq: number }>;
      deleted: number[];
    };
    settle(cut: number): void;
    /** messages a batch left out: queued again */
    requeue(seqs: readonly number[], now: number): void;
    defer(cut: number, nextAt: number): void;
    park(cut: number): void;
  };
  message(seq: number): Message | null;
  members(): readonly PushMember[];
  /** users holding a stream here */
  streaming(): ReadonlySet<string>;
  markPushed(userIds: readonly string[], seq: number): void;
  transaction<T>(fn: () => T): T;
  wake(at: number): void;
  clock(): number;
}

export interface PushFlushSettings extends PushSettings {
  /** no two requests of one room closer than this */
  intervalMs: number;
  /** a first message waits this long for the ones sent with it (and for activity answers) */
  collectMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_PUSH_FLUSH: PushFlushSettings = {
  ...DEFAULT_PUSH,
  intervalMs: 1000,
  collectMs: 200,
  backoffBaseMs: 500,
  backoffMaxMs: 60_000,
};

export class PushFlusher implements TimedJob {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private sending = false;
  // rooms that got busy together do not all call the relay in the same instant
  private readonly jitter: number;

  constructor(
    private readonly host: PushFlusherHost,
    private readonly s: PushFlushSettings = DEFAULT_PUSH_FLUSH,
    private readonly random: () => number = Math.random,
  ) {
    this.jitter = windowJitter(random);
  }

  /** whether the room queues push rows at all */
  get enabled(): boolean {
    return this.host.relay !== null;
  }

  /** A push row was queued: the alarm comes for it within the window. */
  noted(now: number): void {
    if (this.enabled) this.host.wake(this.dueAt(now) ?? now);
  }

  dueAt(_now: number): number | null {
    if (!this.host.relay || !this.host.meta()) return null;
    const head = this.host.outbox.head();
    if (!head) return null;
    const collected = head.createdAt + Math.round(this.s.collectMs * this.jitter);
    return Math.max(collected, this.lastSentAt + this.s.intervalMs, head.nextAt);
  }

  async run(now: number): Promise<void> {
    const { relay, outbox } = this.host;
    const meta = this.host.meta();
    if (!relay || !meta || this.sending) return;
    const head = outbox.head();
    if (!head || Math.max(head.nextAt, this.lastSentAt + this.s.intervalMs) > now) return;
    const taken = this.host.transaction(() => this.take(meta));
    if (!taken) return;
    const { claim, built } = taken;
    if (!built.batch) {
      // nobody to push to and no read to report: nothing leaves the room
      this.host.transaction(() => {
        outbox.settle(claim.cut);
        outbox.requeue(built.left, now);
      });
      return;
    }
    this.sending = true;
    this.lastSentAt = now;
    let answer: PushAnswer;
    try {
      answer = await relay.postBatch(built.batch);
    } finally {
      this.sending = false;
    }
    const batch = built.batch;
    if (answer.status === 200) {
      this.host.transaction(() => {
        outbox.settle(claim.cut);
        outbox.requeue(built.left, this.host.clock());
        if (built.lastSeq !== null) this.host.markPushed(built.audience, built.lastSeq);
      });
      return;
    }
    if (answer.status === 400 || answer.status === 413) {
      // a retry cannot fix a batch the relay calls malformed: set it aside, loudly, and go on
      console.error(
        `room ${meta.room_id}: push relay refused batch ${batch.batch_id} (${answer.status}): ${answer.detail}`,
      );
      this.host.transaction(() => {
        outbox.park(claim.cut);
        outbox.requeue(built.left, this.host.clock());
      });
      return;
    }
    const wait = backoffMs(claim.attempts, this.s, this.random);
    console.warn(
      `room ${meta.room_id}: push batch ${batch.batch_id} not taken (${answer.status || "no answer"}: ${answer.detail}); retry in ${wait} ms`,
    );
    outbox.defer(claim.cut, this.host.clock() + wait);
  }

  /**
   * Claims the next batch and builds it: the batch tried before, as it was cut, or else the oldest
   * rows waiting, cut where the batch's bounds end so that exactly what is sent is claimed (and
   * settled on a 200). A retried batch that no longer fits (the room grew, a message was edited
   * longer) leaves its newest messages out; they are queued again when it settles.
   */
  private take(meta: RoomMeta): { claim: PushClaim; built: BuiltPushBatch } | null {
    const { outbox } = this.host;
    const build = (cut: number, batchId: string) => {
      const { pushes, reads, deleted } = outbox.rows(cut);
      const messages = pushes.map((p) => this.host.message(p.seq)).filter((m): m is Message => m !== null);
      const built = buildPushBatch(
        {
          batchId,
          meta,
          messages,
          members: this.host.members(),
          streaming: this.host.streaming(),
          reads,
          deleted,
        },
        this.s,
      );
      return { built, pushes };
    };
    const idOf = (claim: PushClaim) => `${meta.room_id}:${claim.firstId}:${claim.cut}`;
    const retried = outbox.retried();
    if (retried !== null) {
      const claim = outbox.claim(retried);
      return claim ? { claim, built: build(retried, idOf(claim)).built } : null;
    }
    let cut = outbox.nextCut(this.s.maxMessages);
    if (cut === null) return null;
    // the batch id is known once the range is: the first try below only measures
    const { built, pushes } = build(cut, "");
    if (built.left.length) {
      const left = new Set(built.left);
      const firstLeft = pushes.find((p) => left.has(p.seq))!;
      cut = outbox.cutBefore(firstLeft.id);
      if (cut === null) return null;
    }
    const claim = outbox.claim(cut);
    return claim ? { claim, built: build(cut, idOf(claim)).built } : null;
  }
}
