// Hands the room's push outbox to the push-relay: at most one request a second per room, carrying
// every message waiting (push-batch.ts decides the messages and the audience, at the flush), and
// the read offsets that moved. Settled only on the relay's 200; a batch it calls malformed (400,
// 413) is parked loudly; anything else is retried with exponential backoff and full jitter, as
// the same batch (same rows, same batch_id, so a relay that took it but lost the answer says
// `duplicate`). A send never waits for any of this: it only queues a row, in its own transaction.
//
// A batch is a range of rows, every push row up to `cut`, claimed (its try counted) before the
// request leaves: rows queued meanwhile have higher ids and wait for the next batch, and a read
// offset replaces only one in no batch (outbox-store.ts), so a retried batch holds what it held.
import type { Message, PushBatch } from "../../protocol/index.js";
import type { TimedJob } from "../shared/alarm.js";
import { backoffMs } from "./outbox.js";
import type { PushClaim } from "./outbox-store.js";
import { buildPushBatch, DEFAULT_PUSH, type PushMember, type PushSettings } from "./push-batch.js";
import type { PushAnswer } from "./push-client.js";
import type { RoomMeta } from "./store.js";

export interface PushFlusherHost {
  meta(): RoomMeta | null;
  /** null: no relay configured (and then nothing is queued either) */
  relay: { postBatch(batch: PushBatch): Promise<PushAnswer> } | null;
  outbox: {
    head(): { createdAt: number; nextAt: number; attempts: number } | null;
    claim(): PushClaim | null;
    rows(
      cut: number,
      maxMessages: number,
    ): { seqs: number[]; reads: Array<{ user_id: string; read_seq: number }>; deleted: number[] };
    settle(cut: number): void;
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
    this.jitter = 0.75 + random() * 0.5;
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
    const claim = this.host.transaction(() => outbox.claim());
    if (!claim) return;
    const { seqs, reads, deleted } = outbox.rows(claim.cut, this.s.maxMessages);
    const messages = seqs.map((seq) => this.host.message(seq)).filter((m): m is Message => m !== null);
    const built = buildPushBatch(
      {
        batchId: `${meta.room_id}:${claim.firstId}:${claim.cut}`,
        meta,
        messages,
        members: this.host.members(),
        streaming: this.host.streaming(),
        reads,
        deleted,
      },
      this.s,
    );
    if (!built.batch) {
      // nobody to push to and no read to report: nothing leaves the room
      outbox.settle(claim.cut);
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
        if (built.lastSeq !== null) this.host.markPushed(built.audience, built.lastSeq);
      });
      return;
    }
    if (answer.status === 400 || answer.status === 413) {
      // a retry cannot fix a batch the relay calls malformed: set it aside, loudly, and go on
      console.error(
        `room ${meta.room_id}: push relay refused batch ${batch.batch_id} (${answer.status}): ${answer.detail}`,
      );
      outbox.park(claim.cut);
      return;
    }
    const wait = backoffMs(claim.attempts, this.s, this.random);
    console.warn(
      `room ${meta.room_id}: push batch ${batch.batch_id} not taken (${answer.status || "no answer"}: ${answer.detail}); retry in ${wait} ms`,
    );
    outbox.defer(claim.cut, this.host.clock() + wait);
  }
}
