// The write path of edits and deletes, in the send path's discipline (send-batcher.ts): the op is
// deduplicated, checked and stored in one synchronous storage transaction, and its frames leave
// right after it, in the same turn. The runtime's output gate holds them until the write is
// durable, so no op_ack (a promise that the change is stored) and no update leaves before it. A
// failed write acks nothing: the op is answered `unavailable` and may be sent again with the same
// op_id. An op_id the user already applied answers its first op_ack with `duplicate` and changes
// nothing, so a client may retry an op until it hears back.
import type { Message, ServerFrame } from "../../protocol/index.js";
import { errorFrame } from "../shared/frames.js";
import {
  changedColumns,
  changeTime,
  decideChange,
  type ChangedColumns,
  type ChangeFrame,
  type ChangeTarget,
} from "./message-changes.js";
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

export interface ChangeApplierHost {
  meta(): RoomMeta | null;
  /** runs `fn` as one storage transaction */
  transaction<T>(fn: () => T): T;
  /** the seq and rev of an op the user already applied (null: a new op) */
  appliedOp(userId: string, opId: string): { seq: number; rev: number } | null;
  /** the message a change names (null: the hot tail does not hold it) */
  target(seq: number): ChangeTarget | null;
  /** the room's change cursor */
  rev(): number;
  /** stores the change and its rev (the message, the op's dedupe key, outbox rows); inside the transaction */
  write(userId: string, frame: ChangeFrame, columns: ChangedColumns, now: number): Message;
  /** whether the room's storage is at its limit (the op is refused `unavailable`, nothing stored) */
  storageFull(): boolean;
  broadcast(frame: string): void;
  send(ws: WebSocket, frame: ServerFrame): void;
  refuse(ws: WebSocket, error: ServerFrame): void;
  /** after the frames left: the outboxes' alarms, and who else hears of it; `before`: the message as it was */
  changed(meta: RoomMeta, message: Message, before: ChangeTarget, now: number): void;
  clock(): number;
}

type Outcome =
  | { kind: "duplicate"; seq: number; rev: number }
  | { kind: "refused"; code: "not_found" | "forbidden" | "conflict"; message: string }
  | { kind: "applied"; message: Message; before: ChangeTarget; rev: number };

export class ChangeApplier {
  constructor(private readonly host: ChangeApplierHost) {}

  /** Applies `frame` of `actor` (who may send here: the caller checked) and answers it on `ws`. */
  apply(ws: WebSocket, actor: MemberState, frame: ChangeFrame): void {
    const h = this.host;
    const meta = h.meta();
    if (!meta) throw new Error("room has no state");
    const ref = frame.op_id;
    if (h.storageFull()) {
      return h.refuse(ws, errorFrame("unavailable", "this room's storage is full; the change was not stored", ref));
    }
    const now = h.clock();
    let outcome: Outcome;
    try {
      outcome = h.transaction((): Outcome => {
        const done = h.appliedOp(actor.user_id, frame.op_id);
        if (done) return { kind: "duplicate", ...done };
        const target = h.target(frame.seq);
        const refusal = decideChange(frame, target, actor, meta.last_seq);
        if (refusal) return { kind: "refused", ...refusal };
        const rev = h.rev() + 1;
        const columns = changedColumns(frame, rev, changeTime(now, target!));
        return { kind: "applied", message: h.write(actor.user_id, frame, columns, now), before: target!, rev };
      });
    } catch (err) {
      console.error("change commit failed", err);
      return h.refuse(ws, errorFrame("unavailable", "the change was not stored; send it again", ref));
    }
    if (outcome.kind === "refused") return h.refuse(ws, errorFrame(outcome.code, outcome.message, ref));
    const ack = (seq: number, rev: number, duplicate: boolean): ServerFrame => ({
      type: "op_ack",
      room_id: meta.room_id,
      op_id: frame.op_id,
      seq,
      rev,
      ...(duplicate ? { duplicate: true } : {}),
    });
    if (outcome.kind === "duplicate") return h.send(ws, ack(outcome.seq, outcome.rev, true));
    const { message, rev } = outcome;
    h.broadcast(JSON.stringify({ type: "update", room_id: meta.room_id, rev, message } satisfies ServerFrame));
    h.send(ws, ack(message.seq, rev, false));
    h.changed(meta, message, outcome.before, now);
  }
}
