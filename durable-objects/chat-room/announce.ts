// Room events (created, member added or removed) for the sessions of the users they concern,
// sent from the room with bounded parallelism. A session that is offline answers at once and
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
