// The one way a committed membership change (members, roles, or a block in a direct room) leaves
// the API. The store functions that write the change bump chat_rooms.membership_version in its
// transaction, so the version and the change commit together; this runs after that commit. The
// room must hold the new snapshot before the caller answers, or a removed or blocked member
// could still send and read there after seeing the 200 (ARCHITECTURE.md, invariant 7).
import type { Context } from "hono";
import { mayBeOnline } from "../../db/index.js";
import type { RoomEvent } from "../../protocol/index.js";
import type { AppBindings } from "../env.js";
import { afterResponse, dbOf } from "../http/db.js";
import { notifySessions, pushRoomState } from "../realtime/room-sync.js";

export interface RoomNotice {
  userIds: readonly string[];
  event: RoomEvent;
}

/**
 * Pushes the room's snapshot to its ChatRoom (a 503 when it cannot be delivered, see
 * pushRoomState), then tells the sessions of the users in `notify` in the background; nobody
 * hears of a change the room has not applied. A new room or membership is told only to sessions
 * that may be online (db/online-hint.ts): an offline one lists its rooms when it comes back. A
 * removal reaches every session, online or not (it re-checks who may see whose presence).
 */
export async function commitMembershipChange(
  c: Context<AppBindings>,
  roomId: string,
  notify: readonly RoomNotice[] = [],
  opts: { created?: boolean } = {},
): Promise<void> {
  await pushRoomState(c.env, dbOf(c), roomId, opts.created ?? false);
  for (const { userIds, event } of notify) {
    if (event === "created" || event === "member_added") {
      afterResponse(c, `room ${roomId}: "${event}" announcement`, async (db) =>
        notifySessions(c.env, c.executionCtx, await mayBeOnline(db, userIds), roomId, event),
      );
    } else {
      notifySessions(c.env, c.executionCtx, userIds, roomId, event);
    }
  }
}
