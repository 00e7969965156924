// A stream opening: the newest ≤ MAX_REPLAY messages after `after_seq` (never before the member
// joined), then `synced`, then live. Replay and going live happen in one synchronous turn: a send
// is committed and broadcast in a turn of its own, so it lands either in this replay or on the
// live socket, never in both and never in neither.
import { MAX_REPLAY, type ServerFrame } from "../../protocol/index.js";
import type { MemberState } from "./members.js";
import type { MessageStore } from "./message-store.js";
import type { RoomMeta } from "./store.js";

export function replayInto(
  ws: WebSocket,
  store: Pick<MessageStore, "replay">,
  meta: RoomMeta,
  member: MemberState,
  afterSeq: number,
): void {
  const from = Math.max(Number.isFinite(afterSeq) ? afterSeq : 0, member.joined_seq);
  const { messages, hasMore } = store.replay(meta.room_id, from, MAX_REPLAY);
  for (const m of messages) ws.send(JSON.stringify({ type: "message", ...m } satisfies ServerFrame));
  const synced: ServerFrame = { type: "synced", room_id: meta.room_id, last_seq: meta.last_seq, has_more: hasMore };
  ws.send(JSON.stringify(synced));
}
