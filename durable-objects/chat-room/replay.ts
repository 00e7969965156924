// A stream opening: the newest ≤ MAX_REPLAY messages after `after_seq` (never before the member
// joined), then `synced`, then live. Replay and going live happen in one synchronous turn: a send
// is committed and broadcast in a turn of its own, so it lands either in this replay or on the
// live socket, never in both and never in neither.
//
// `has_more` is true whenever the replay does not start right after `after_seq`: the messages in
// between were left out (more than MAX_REPLAY), or only the archive holds them (the hot tail was
// pruned, or the room lost its storage). The client pages them over HTTP from `after_seq`, up to
// the first replayed seq.
import { MAX_REPLAY, type Message, type ServerFrame } from "../../protocol/index.js";
import type { MemberState } from "./members.js";
import type { MessageStore } from "./message-store.js";
import type { RoomMeta } from "./store.js";

/** What a stream opened after `afterSeq` is sent before it goes live. */
export function replayFrames(
  store: Pick<MessageStore, "replay">,
  meta: Pick<RoomMeta, "room_id" | "last_seq">,
  member: Pick<MemberState, "joined_seq">,
  afterSeq: number,
  max = MAX_REPLAY,
): { messages: Message[]; synced: ServerFrame } {
  const from = Math.max(Number.isFinite(afterSeq) ? afterSeq : 0, member.joined_seq);
  const { messages } = store.replay(meta.room_id, from, max);
  const first = messages[0]?.seq ?? meta.last_seq + 1;
  const synced: ServerFrame = {
    type: "synced",
    room_id: meta.room_id,
    last_seq: meta.last_seq,
    has_more: first > from + 1,
  };
  return { messages, synced };
}

export function replayInto(
  ws: WebSocket,
  store: Pick<MessageStore, "replay">,
  meta: RoomMeta,
  member: MemberState,
  afterSeq: number,
): void {
  const { messages, synced } = replayFrames(store, meta, member, afterSeq);
  for (const m of messages) ws.send(JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
  ws.send(JSON.stringify(synced));
}
