// After a change that can end who sees whose presence (a block, a friend removed), the sessions
// involved ask again before the API answers: from then on no update reaches someone who may no
// longer see it. A session that cannot be reached is logged, not fatal: the change itself is
// committed, and the next watch_presence asks again anyway.
import { mapLimit } from "../../lib/parallel/index.js";
import type { Env } from "../env.js";
import { sessionStub } from "../realtime/room-sync.js";

export async function recheckPresence(env: Env, userIds: readonly string[]): Promise<void> {
  const results = await mapLimit([...new Set(userIds)], 4, (u) => sessionStub(env, u).recheckPresence());
  results.forEach((r, i) => {
    if (r instanceof Error) console.warn(`presence of ${userIds[i]} not rechecked: ${r.message}`);
  });
}
