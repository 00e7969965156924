// /v1/me and /v1/users: the caller's own profile and the people search.
import { and, asc, eq, or, sql } from "drizzle-orm";
import { Hono } from "hono";
import { BlockStatus, GroupAdds, UserStatus, userBlock, users } from "../../db/index.js";
import { MePatchBody, UserSearchQuery } from "../../protocol/index.js";
import type { MeResponse, UserSearchResponse } from "../../protocol/social.js";
import type { AppBindings } from "../env.js";
import { dbOf } from "../http/db.js";
import { notFound } from "../http/errors.js";
import { enforceRateLimit } from "../http/rate-limit.js";
import { readJson, readQuery } from "../http/validate.js";
import { publicUser } from "./public-user.js";

/** Makes `%`, `_` and the escape character itself match literally in a LIKE pattern (Postgres' default escape is `\`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

export const usersRoutes = new Hono<AppBindings>();

const meColumns = { id: users.id, handle: users.handle, displayName: users.displayName, groupAdds: users.groupAdds };
const toMe = (row: { id: string; handle: string; displayName: string; groupAdds: number }): MeResponse => ({
  ...publicUser(row),
  group_adds: row.groupAdds === GroupAdds.friends ? "friends" : "anyone",
});

usersRoutes.get("/me", async (c) => {
  const { userId } = c.get("auth");
  const [me] = await dbOf(c)
    .select(meColumns)
    .from(users)
    .where(and(eq(users.id, userId), eq(users.status, UserStatus.active)));
  // The token outlives a deletion or suspension by up to its TTL; the profile does not.
  if (!me) throw notFound("this account no longer exists");
  return c.json(toMe(me) satisfies MeResponse);
});

usersRoutes.patch("/users/me", async (c) => {
  const body = await readJson(c, MePatchBody);
  const { userId } = c.get("auth");
  const [me] = await dbOf(c)
    .update(users)
    .set({
      ...(body.display_name !== undefined ? { displayName: body.display_name } : {}),
      ...(body.group_adds !== undefined ? { groupAdds: GroupAdds[body.group_adds] } : {}),
      updatedAt: sql`now()`,
    })
    .where(and(eq(users.id, userId), eq(users.status, UserStatus.active)))
    .returning(meColumns);
  if (!me) throw notFound("this account no longer exists");
  return c.json(toMe(me) satisfies MeResponse);
});

usersRoutes.get("/users", async (c) => {
  const { q, limit } = readQuery(c, UserSearchQuery);
  const { userId } = c.get("auth");
  await enforceRateLimit(c, "user_search", userId);
  // Lower-cased by Postgres, not JS: the display-name index is on Postgres' lower(), and the two
  // can disagree outside ASCII. The pattern stays a bound parameter, so the planner still sees a
  // constant prefix and uses the text_pattern_ops indexes.
  const prefix = sql`lower(${escapeLike(q)}) || '%'`;
  const rows = await dbOf(c)
    .select({ id: users.id, handle: users.handle, displayName: users.displayName })
    .from(users)
    .where(
      and(
        eq(users.status, UserStatus.active),
        or(sql`${users.handle} like ${prefix}`, sql`lower(${users.displayName}) like ${prefix}`),
        // someone who blocked the caller stays invisible to them
        sql`not exists (select 1 from ${userBlock} where ${userBlock.blockerId} = ${users.id} and ${userBlock.blockedId} = ${userId} and ${userBlock.status} = ${BlockStatus.active})`,
      ),
    )
    .orderBy(sql`${users.handle} = lower(${q}) desc`, asc(users.handle))
    .limit(limit);
  return c.json({ users: rows.map(publicUser) } satisfies UserSearchResponse);
});
