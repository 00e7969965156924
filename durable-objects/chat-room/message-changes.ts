// Edits and deletes of stored messages: who may change what, and what the new version is. Pure, so
// the rules are tested without a runtime.
//
// A change never takes a seq (unread counts and the gap-free order of seqs stay as they are): it
// takes the room's next `rev`, a change cursor beside seq, and the message keeps the rev of its
// latest change. A sender edits the body of their own message and deletes it; a role with
// `can_delete_any` deletes anyone's. A deleted message keeps its seq and loses its body, mentions
// and attachments, and can be changed no more.
import type { DeleteFrame, EditFrame, Message } from "../../protocol/index.js";
import { mayDeleteAny } from "./access.js";
import type { MemberState } from "./members.js";

export type ChangeFrame = EditFrame | DeleteFrame;
export type MessageStatus = NonNullable<Message["status"]>;

/** What the room knows of the message a change names. */
export interface ChangeTarget {
  seq: number;
  sender_id: string;
  /** as the message had them before this change (who heard of it, so who hears of the change) */
  mentions: string[];
  mention_all: boolean;
  status: MessageStatus | null;
  /** epoch ms */
  created_at: number;
  /** epoch ms of its latest change (null: never changed) */
  updated_at: number | null;
}

export interface ChangeRefusal {
  code: "not_found" | "forbidden" | "conflict";
  message: string;
}

/**
 * Whether `actor` may apply `frame` to `target` (null: the room holds no such message). The
 * caller has checked that the actor may send here at all. `lastSeq`: the room's last seq, which
 * tells a seq that never existed from one that has left the hot tail (only the archive holds it,
 * and the archive is written through the room: a change there could never reach it).
 */
export function decideChange(
  frame: Pick<ChangeFrame, "type" | "seq">,
  target: ChangeTarget | null,
  actor: Pick<MemberState, "user_id" | "role" | "can_delete_any" | "joined_seq">,
  lastSeq: number,
): ChangeRefusal | null {
  const seq = frame.seq;
  // a message from before the actor joined is not theirs to see, so not theirs to find either
  if (seq > lastSeq || seq <= actor.joined_seq) return { code: "not_found", message: `no message ${seq} in this room` };
  if (!target)
    return {
      code: "not_found",
      message: `message ${seq} is no longer in this room's recent history; it can no longer be edited or deleted`,
    };
  if (target.status === "deleted") return { code: "conflict", message: `message ${seq} was deleted` };
  const own = target.sender_id === actor.user_id;
  if (frame.type === "edit" && !own) return { code: "forbidden", message: "you can edit only your own messages" };
  if (frame.type === "delete" && !own && !mayDeleteAny(actor))
    return { code: "forbidden", message: "your role may not delete other members' messages" };
  return null;
}

/**
 * The change's time: now, but always after the message's previous version, so versions of one
 * message have strictly increasing updated_at (the archive keeps the version with the latest
 * one, and Cassandra would mix two versions of the same instant cell by cell).
 */
export function changeTime(now: number, target: Pick<ChangeTarget, "created_at" | "updated_at">): number {
  return Math.max(now, (target.updated_at ?? target.created_at) + 1);
}

/** The stored columns a change writes. */
export interface ChangedColumns {
  status: MessageStatus;
  body: string;
  /** true: mentions, mention_all and attachments go too (a delete); an edit changes the body only */
  clears: boolean;
  updated_at: number;
  rev: number;
}

export function changedColumns(frame: ChangeFrame, rev: number, updatedAt: number): ChangedColumns {
  if (frame.type === "edit") return { status: "edited", body: frame.body, clears: false, updated_at: updatedAt, rev };
  return { status: "deleted", body: "", clears: true, updated_at: updatedAt, rev };
}
