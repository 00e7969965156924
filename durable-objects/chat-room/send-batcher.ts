// The write path. Sends that arrive in the same turn of the event loop are committed together in
// one synchronous storage transaction; their message frames and acks leave in that same turn,
// right after it: to a stream opened with `batch=1` as one message per socket.
//
// Why that is safe: the runtime's output gate holds every frame an object sends until the writes
// before it are durable, so no ack and no message leaves before the write does (an ack is a
// promise that the message is stored). A failed commit acks nothing: every send of the batch is
// answered `unavailable` and may be sent again with the same client_message_id.
import type { Message, SendFrame, ServerFrame } from "../../protocol/index.js";
import { errorFrame } from "../shared/frames.js";
import type { MemberState } from "./members.js";
import type { PendingSend, RoomMeta, SendResult } from "./store.js";

export interface QueuedSend extends PendingSend {
  ws: WebSocket;
}

export interface SendBatcherHost<Plan, Reads = unknown> {
  meta(): RoomMeta | null;
  members(): readonly MemberState[];
  isMember(userId: string): boolean;
  /** runs `fn` as one storage transaction */
  transaction<T>(fn: () => T): T;
  /** stores the sends (dedupe, seq, outbox rows); inside the transaction */
  commitSends(meta: RoomMeta, sends: readonly QueuedSend[], now: number): { results: SendResult[]; lastSeq: number };
  /** what the fan-out writes with the messages (push rows); inside the transaction */
  planFanout(members: readonly MemberState[], stored: readonly Message[], now: number): Plan;
  /** each sender has read up to their newest message (offsets.ts); inside the transaction */
  sendersRead(stored: readonly Message[], lastSeqBefore: number, now: number): Reads;
  /**
   * the batch's frames: `messages` to every stream, then each sender's acks to its socket (a
   * stream that reads batches gets them in one message: SocketHost.deliver)
   */
  deliver(messages: readonly string[], acks: ReadonlyMap<WebSocket, readonly string[]>): void;
  refuse(ws: WebSocket, error: ServerFrame): void;
  /** after the frames left: activity, receipts, the outbox's and upkeep's alarms */
  committed(meta: RoomMeta, plan: Plan, reads: Reads, stored: readonly Message[], lastSeq: number, now: number): void;
  /**
   * whether the room's storage is at its limit: sends are refused `unavailable` (nothing stored,
   * nothing acked) instead of a transaction failing part way when the database is really full
   */
  storageFull(): boolean;
  /** the next turn of the event loop */
  nextTurn(fn: () => void): void;
  clock(): number;
}

export class SendBatcher<Plan, Reads = unknown> {
  private queue: QueuedSend[] = [];
  private turn: Promise<void> | null = null;

  constructor(private readonly host: SendBatcherHost<Plan, Reads>) {}

  /** Resolves once the send was committed (and acked) or refused. */
  async enqueue(send: QueuedSend): Promise<void> {
    this.queue.push(send);
    this.turn ??= new Promise<void>((resolve, reject) =>
      this.host.nextTurn(() => {
        const batch = this.queue;
        this.queue = [];
        this.turn = null;
        try {
          this.commit(batch);
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    try {
      await this.turn;
    } catch (err) {
      console.error("send commit failed", err);
      this.host.refuse(
        send.ws,
        errorFrame("unavailable", "the message was not stored; send it again", send.frame.client_message_id),
      );
    }
  }

  private commit(batch: QueuedSend[]): void {
    if (batch.length === 0) return;
    const h = this.host;
    const meta = h.meta();
    if (!meta) throw new Error("room has no state");
    const members = h.members();
    // the membership may have changed while the batch waited for its turn
    const admitted = batch.filter((q) => {
      if (h.isMember(q.sender_id)) return true;
      h.refuse(q.ws, errorFrame("forbidden", "you are no longer a member of this room", q.frame.client_message_id));
      return false;
    });
    if (admitted.length > 0 && h.storageFull()) {
      for (const q of admitted) {
        const message = "this room's storage is full; the message was not stored";
        h.refuse(q.ws, errorFrame("unavailable", message, q.frame.client_message_id));
      }
      return;
    }
    const now = h.clock();
    const lastSeqBefore = meta.last_seq;
    const { results, stored, plan, reads, lastSeq } = h.transaction(() => {
      const { results, lastSeq } = h.commitSends(meta, admitted, now);
      const stored = results.flatMap((r) => (r.message ? [r.message] : []));
      // the senders' reads first: the fan-out's activity carries their read_seq to their other devices
      const reads = h.sendersRead(stored, lastSeqBefore, now);
      return { results, stored, plan: h.planFanout(members, stored, now), reads, lastSeq };
    });
    const messages = stored.map((m) => JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
    const acks = new Map<WebSocket, string[]>();
    results.forEach((r, i) => {
      const ack: ServerFrame = {
        type: "ack",
        room_id: meta.room_id,
        client_message_id: r.client_message_id,
        seq: r.seq,
        message_id: r.message_id,
        created_at: r.created_at,
        ...(r.duplicate ? { duplicate: true } : {}),
      };
      const ws = admitted[i]!.ws;
      const list = acks.get(ws);
      if (list) list.push(JSON.stringify(ack));
      else acks.set(ws, [JSON.stringify(ack)]);
    });
    h.deliver(messages, acks);
    if (stored.length) h.committed(meta, plan, reads, stored, lastSeq, now);
  }
}

export type { SendFrame };
