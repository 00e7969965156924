// Blocks between users (the user store's user_block), asked by friends and rooms alike.
import { and, eq, inArray } from "drizzle-orm";
import { type Exec, BlockStatus, userBlock } from "../../db/index.js";

/** Of `userIds`, those who have blocked `target` (so target may not add them or open rooms with them). */
export async function whoBlocked(db: Exec, target: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ blockerId: userBlock.blockerId })
    .from(userBlock)
    .where(
      and(
        eq(userBlock.blockedId, target),
        eq(userBlock.status, BlockStatus.active),
        inArray(userBlock.blockerId, userIds),
      ),
    );
  return new Set(rows.map((r) => r.blockerId));
}
