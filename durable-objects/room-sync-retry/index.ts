// RoomSyncRetry: one per room, woken only when a membership push to that room's ChatRoom failed.
// It holds the pending retry in its own storage and drives it from its alarm, so the retry
// survives the request that failed (a request's waitUntil does not), and tells the room to catch
// up to the committed version (the room reloads its snapshot from PostgreSQL itself). The
// decisions are in retry-plan.ts.
import { DurableObject } from "cloudflare:workers";
import type { ObjectEnv } from "../env.js";
import { afterAttempt, schedule, type Outcome, type RetryState } from "./retry-plan.js";

const KEY = "retry";

export class RoomSyncRetry extends DurableObject<ObjectEnv> {
  /** A push of `version` (null: unknown) to room `roomId` failed: make sure the room gets there. */
  async schedule(roomId: string, version: number | null): Promise<RetryState> {
    const next = schedule((await this.ctx.storage.get<RetryState>(KEY)) ?? null, roomId, version, Date.now());
    await this.ctx.storage.put(KEY, next);
    await this.ctx.storage.setAlarm(next.due_at);
    return next;
  }

  /** For tests and operators: the pending retry, if any. */
  async pending(): Promise<RetryState | null> {
    return (await this.ctx.storage.get<RetryState>(KEY)) ?? null;
  }

  override async alarm(): Promise<void> {
    const state = await this.ctx.storage.get<RetryState>(KEY);
    if (!state) return;
    let outcome: Outcome;
    try {
      const room = this.env.CHAT_ROOM.get(this.env.CHAT_ROOM.idFromName(state.room_id));
      outcome = { ok: true, version: (await room.catchUp(state.version)).version };
    } catch (err) {
      outcome = { ok: false, error: String(err) };
    }
    // a schedule() that landed while the room was asked keeps its newer version
    const latest = (await this.ctx.storage.get<RetryState>(KEY)) ?? state;
    const { next, gaveUp } = afterAttempt({ ...latest, attempt: state.attempt }, outcome, Date.now());
    if (gaveUp) console.error(`room ${state.room_id}: membership retry gave up after a day`, outcome);
    else if (!outcome.ok) console.warn(`room ${state.room_id}: membership retry ${state.attempt + 1} failed`, outcome);
    if (next) {
      await this.ctx.storage.put(KEY, next);
      await this.ctx.storage.setAlarm(next.due_at);
    } else await this.ctx.storage.deleteAll();
  }
}
