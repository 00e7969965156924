// Room events (created, member added) for the sessions of the users they concern, sent from the
// room's alarm with bounded parallelism. A session that is offline answers at once and
// stores nothing (UserSession.roomEvent); one that misses the event catches up on its next
// subscription round, so a failure is counted, not retried.
import { mapLimit } from "../../lib/parallel/index.js";

export async function announceTo(
  userIds: readonly string[],
  parallelism: number,
  call: (userId: string) => Promise<unknown>,
): Promise<{ sent: number; failed: number }> {
  const unique = [...new Set(userIds)];
  const results = await mapLimit(unique, parallelism, call);
  const failed = results.filter((r) => r instanceof Error).length;
  if (failed) console.warn(`${failed} of ${unique.length} sessions missed a room event`);
  return { sent: unique.length - failed, failed };
}

/**
 * Room events waiting for the room's alarm. The fan-out runs there, not in the RPC that queued it:
 * work left running from a call (even un-awaited) stays tied to the caller's request, and a
 * keep-alive connection serves nothing more until that request's work is done (measured: the
 * next request on the connection that created a 300-member group waited 6.5-8.6 s, the one after
 * it found the connection closed). Held in memory only: an event lost to an eviction is caught
 * up by the session's next subscription round.
 */
export class Announcements<E extends string> {
  private pending: Array<{ userIds: readonly string[]; event: E }> = [];
  /** sessions told since the object started (for inspect) */
  sent = 0;

  constructor(
    private readonly send: (userId: string, event: E) => Promise<unknown>,
    private readonly parallelism: number,
    private readonly wake: (at: number) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  add(userIds: readonly string[], event: E): void {
    if (userIds.length === 0) return;
    this.pending.push({ userIds, event });
    this.wake(this.clock());
  }

  dueAt(now: number): number | null {
    return this.pending.length ? now : null;
  }

  async run(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    for (const { userIds, event } of batch) {
      this.sent += (await announceTo(userIds, this.parallelism, (u) => this.send(u, event))).sent;
    }
  }
}
