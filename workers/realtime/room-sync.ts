// After a membership, role or block change commits in PostgreSQL, the room's Durable Object gets
// the new snapshot before the API answers, so a removed or blocked member is shut out from the
// moment the client sees 200. A failed push is retried, then handed to a durable retry (an alarm
// of the room's RoomSyncRetry); the object ignores older versions, so retries and races between
// concurrent changes are harmless. Handlers reach pushRoomState and
// notifySessions only through rooms/membership-change.ts, so no change can skip the push.
import { type Exec, loadRoomSnapshot } from "../../db/index.js";
import type { RoomEvent } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { HttpError } from "../http/errors.js";

const ATTEMPTS = 4;

export function roomStub(env: Env, roomId: string) {
  return env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(roomId));
}

export function sessionStub(env: Env, userId: string, locationHint?: DurableObjectLocationHint) {
  return env.USER_SESSION.get(env.USER_SESSION.idFromName(userId), locationHint ? { locationHint } : undefined);
}

/** `created`: this request made the room (no seq exists anywhere yet; RoomSnapshot.created). */
export async function pushRoomState(env: Env, db: Exec, roomId: string, created = false): Promise<void> {
  let lastError: unknown;
  let version: number | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      // read again on every attempt: a concurrent change may have moved the version on
      const snapshot = await loadRoomSnapshot(db, roomId);
      if (!snapshot) return;
      version = snapshot.version;
      await roomStub(env, roomId).sync(created ? { ...snapshot, created } : snapshot);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 25 * 4 ** attempt));
    }
  }
  console.error(`room ${roomId}: membership not pushed`, lastError);
  await scheduleRetry(env, roomId, version);
  throw new HttpError(
    503,
    "unavailable",
    "the change is saved but the room has not applied it yet; repeat the request",
  );
}

/**
 * Hands a push that failed to the room's RoomSyncRetry, which keeps trying from its alarm after
 * this request is gone (a waitUntil would end with it). If even that object cannot be reached,
 * the caller's 503 still says "repeat", and a repeated request pushes again.
 */
async function scheduleRetry(env: Env, roomId: string, version: number | null): Promise<void> {
  try {
    await env.ROOM_SYNC_RETRY.get(env.ROOM_SYNC_RETRY.idFromName(roomId)).schedule(roomId, version);
  } catch (err) {
    console.error(`room ${roomId}: membership retry not scheduled`, err);
  }
}

/**
 * Tells users' sessions about a room event. The room does the fan-out from its own context: for a
 * new 1,000-member group that is 1,000 session calls, and run from this request's waitUntil they
 * tied up the request's connection (a client reusing it saw it closed: "other side closed", or
 * under wrangler dev "Your worker restarted mid-request"). The answer waits for none of them.
 */
export function notifySessions(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  userIds: readonly string[],
  roomId: string,
  event: RoomEvent,
): void {
  if (userIds.length === 0) return;
  ctx.waitUntil(
    roomStub(env, roomId)
      .announce([...userIds], event)
      .catch((err: unknown) =>
        console.warn(`room ${roomId}: "${event}" not announced to ${userIds.length} sessions`, err),
      ),
  );
}
