// /v1/friends: one-directional friend rows (add, delete, favorite, block), each change recorded
// in friend_history.
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { UserStatus, friends, users } from "../../db/index.js";
import { FriendPatchBody } from "../../protocol/index.js";
import type { FriendListResponse, FriendResponse } from "../../protocol/social.js";
import type { AppBindings } from "../env.js";
import { dbOf } from "../http/db.js";
import { forbidden, invalid, notFound } from "../http/errors.js";
import { enforceRateLimit } from "../http/rate-limit.js";
import { idParam, readJson } from "../http/validate.js";
import { commitMembershipChange } from "../rooms/membership-change.js";
import { whoBlocked } from "../users/blocks.js";
import { recheckPresence } from "../users/presence.js";
import { publicUser } from "../users/public-user.js";
import {
  LISTED,
  addFriend,
  block,
  deleteFriend,
  findUser,
  lockFriendRow,
  setFavorite,
  toFriend,
  unblock,
  type FriendRow,
} from "./store.js";

export const friendsRoutes = new Hono<AppBindings>();

/** The :user_id of the path, lower-cased like the ids Postgres returns, and never the caller. */
function targetOf(c: Context<AppBindings>): { me: string; target: string } {
  const me = c.get("auth").userId;
  const target = idParam(c, "user_id").toLowerCase();
  if (target === me) throw invalid("you cannot be your own friend");
  return { me, target };
}

friendsRoutes.get("/", async (c) => {
  const me = c.get("auth").userId;
  const rows = await dbOf(c)
    .select({
      id: users.id,
      handle: users.handle,
      displayName: users.displayName,
      favorite: friends.isFavorite,
      blocked: friends.isBlocked,
    })
    .from(friends)
    .innerJoin(users, eq(users.id, friends.friendId))
    .where(and(eq(friends.ownerId, me), inArray(friends.status, LISTED), eq(users.status, UserStatus.active)))
    .orderBy(desc(friends.isFavorite), sql`lower(${users.displayName})`, asc(users.handle));
  return c.json({
    friends: rows.map((r) => ({ user: publicUser(r), favorite: r.favorite, blocked: r.blocked })),
  } satisfies FriendListResponse);
});

friendsRoutes.put("/:user_id", async (c) => {
  const { me, target } = targetOf(c);
  await enforceRateLimit(c, "friend_add", me);
  const db = dbOf(c);
  const user = await findUser(db, target);
  if (!user || user.status !== UserStatus.active) throw notFound("no such user");
  if ((await whoBlocked(db, me, [target])).has(target)) throw forbidden("this user has blocked you");
  const row = await db.transaction((tx) => addFriend(tx, me, target));
  return c.json({ friend: toFriend(user, row) } satisfies FriendResponse);
});

friendsRoutes.patch("/:user_id", async (c) => {
  const { me, target } = targetOf(c);
  const body = await readJson(c, FriendPatchBody);
  const db = dbOf(c);
  const user = await findUser(db, target);
  // A block may outlive the blocked account, so lifting it only needs the user to exist.
  if (!user) throw notFound("no such user");
  let directRoom: string | null = null;
  let blockChanged = false;
  const row = await db.transaction(async (tx) => {
    let row: FriendRow | undefined = await lockFriendRow(tx, me, target);
    if (body.blocked !== undefined) {
      const change = body.blocked ? await block(tx, me, target, row) : await unblock(tx, me, target, row);
      row = change.row;
      blockChanged = change.changed;
      directRoom = change.room?.id ?? null;
    }
    if (body.favorite !== undefined) {
      // judged after the block part, so one request can block a stranger and mark them at once
      if (!row || !LISTED.includes(row.status) || user.status !== UserStatus.active)
        throw notFound("not in your friends");
      row = await setFavorite(tx, row, body.favorite);
    }
    // unblocking someone never blocked nor added: there is nothing to answer with
    if (!row && !blockChanged) throw notFound("not in your friends");
    return row;
  });
  // the pair's direct room shuts (or opens) from the moment this answer arrives
  if (directRoom) await commitMembershipChange(c, directRoom);
  // neither side of a block sees the other's presence from this answer on
  if (blockChanged && body.blocked) await recheckPresence(c.env, [me, target]);
  return c.json({ friend: toFriend(user, row) } satisfies FriendResponse);
});

friendsRoutes.delete("/:user_id", async (c) => {
  const { me, target } = targetOf(c);
  const row = await dbOf(c).transaction((tx) => deleteFriend(tx, me, target));
  if (!row) throw notFound("not in your friends");
  // the friend you removed sees your presence no longer (unless you share a room)
  await recheckPresence(c.env, [me]);
  return c.body(null, 204);
});
