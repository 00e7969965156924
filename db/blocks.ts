// Active blocks between one user and others, in either direction: a direct room shuts on one, and
// presence is never seen across one.
import { and, eq, inArray, or } from "drizzle-orm";
import type { Exec } from "./client.js";
import { BlockStatus } from "./codes.js";
import { userBlock } from "./schema/index.js";

export async function activeBlocksBetween(
  db: Exec,
  me: string,
  others: readonly string[],
): Promise<Array<{ blocker: string; blocked: string }>> {
  if (others.length === 0) return [];
  return db
    .select({ blocker: userBlock.blockerId, blocked: userBlock.blockedId })
    .from(userBlock)
    .where(
      and(
        eq(userBlock.status, BlockStatus.active),
        or(
          and(eq(userBlock.blockerId, me), inArray(userBlock.blockedId, [...others])),
          and(eq(userBlock.blockedId, me), inArray(userBlock.blockerId, [...others])),
        ),
      ),
    );
}
