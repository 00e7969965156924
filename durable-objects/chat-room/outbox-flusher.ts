// Hands the room's outbox to the archive sink: the oldest messages and read offsets in order, in
// batches by count and bytes, settled only on the sink's 200. While the sink is down the outbox
// waits with exponential backoff; it is bounded by the object's storage, never by memory.
import type { ArchiveBatchInput, Message } from "../../protocol/index.js";
import { windowJitter, type TimedJob } from "../shared/alarm.js";
import { backoffMs, buildBatch, type OutboxRow, type OutboxSettings } from "./outbox.js";
import type { BatchAnswer } from "./sink-client.js";
import type { RoomMeta } from "./store.js";

/** batches one alarm may send before it yields (the rest follow on the next alarm, at once) */
const MAX_BATCHES_PER_FLUSH = 20;

export interface OutboxFlusherHost {
  meta(): RoomMeta | null;
  /** null: no sink configured, the outbox keeps everything */
  sink: { postBatch(batch: ArchiveBatchInput): Promise<BatchAnswer> } | null;
  outbox: {
    state(countUpTo: number): { count: number; oldest: number | null; nextAt: number | null; attempts: number };
    head(limit: number): OutboxRow[];
    settle(ids: readonly number[]): void;
    defer(ids: readonly number[], nextAt: number): void;
    park(ids: readonly number[]): void;
  };
  message(seq: number): Message | null;
  /** what the archive now holds may leave the hot tail */
  pruneHotTail(now: number): void;
  wake(at: number): void;
  clock(): number;
}

export class OutboxFlusher implements TimedJob {
  // Each room waits a little more or less than the window, so rooms that got busy together do
  // not all call the sink in the same instant.
  private readonly jitter: number;

  constructor(
    private readonly host: OutboxFlusherHost,
    private readonly s: OutboxSettings,
    random: () => number = Math.random,
  ) {
    this.jitter = windowJitter(random);
  }

  private get delay(): number {
    return Math.round(this.s.maxAgeMs * this.jitter);
  }

  /** New items wait at most the outbox's age limit for their flush. */
  noted(now: number): void {
    if (this.host.sink) this.host.wake(now + this.delay);
  }

  dueAt(now: number): number | null {
    if (!this.host.sink || !this.host.meta()) return null;
    const state = this.host.outbox.state(this.s.maxItems);
    if (state.count === 0 || state.oldest === null) return null;
    const ready = state.count >= this.s.maxItems ? now : state.oldest + this.delay;
    return Math.max(ready, state.nextAt ?? 0);
  }

  async run(): Promise<void> {
    const { sink, outbox } = this.host;
    const meta = this.host.meta();
    if (!meta || !sink) return;
    let settled = false;
    for (let round = 0; round < MAX_BATCHES_PER_FLUSH; round++) {
      const state = outbox.state(this.s.maxItems);
      if (state.count === 0 || (state.nextAt ?? 0) > this.host.clock()) break;
      const rows = outbox.head(this.s.maxItems);
      const batchId = `${meta.room_id}:${rows[0]!.id}`;
      const { batch, ids } = buildBatch(rows, (seq) => this.host.message(seq), batchId, this.s);
      if (!batch) {
        outbox.settle(ids);
        continue;
      }
      const { status, detail } = await sink.postBatch(batch);
      if (status === 200) {
        outbox.settle(ids);
        settled = true;
        continue;
      }
      if (status === 400 || status === 413) {
        // a retry cannot fix a batch the sink calls malformed: set it aside, loudly, and go on
        console.error(`room ${meta.room_id}: sink refused batch ${batch.batch_id} (${status}): ${detail}`);
        outbox.park(ids);
        continue;
      }
      const wait = backoffMs(state.attempts + 1, this.s);
      console.warn(
        `room ${meta.room_id}: archive flush failed (${status || "no answer"}: ${detail}); retry in ${wait} ms`,
      );
      outbox.defer(ids, this.host.clock() + wait);
      break;
    }
    if (settled) this.host.pruneHotTail(this.host.clock());
  }
}
