// Reads and writes of the friend store shared by the /v1/friends handlers. Every function takes
// the transaction it runs in: a friend change and its history row commit together or not at all.
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import {
  type Database,
  type Tx,
  BlockStatus,
  FriendAction,
  FriendStatus,
  type Code,
  friendHistory,
  friends,
  userBlock,
  userBlockHistory,
  users,
} from "../../db/index.js";
import type { Friend } from "../../protocol/index.js";
import { bumpDirectRoom } from "../rooms/member-store.js";
import { publicUser } from "../users/public-user.js";

export type { Tx };
export type FriendRow = typeof friends.$inferSelect;
export interface TargetUser {
  id: string;
  handle: string;
  displayName: string;
  status: number;
}

/** Statuses that put a row in the friends list. */
export const LISTED: number[] = [FriendStatus.added, FriendStatus.blocked];

const pair = (ownerId: string, friendId: string) => and(eq(friends.ownerId, ownerId), eq(friends.friendId, friendId));

export async function findUser(db: Database | Tx, id: string): Promise<TargetUser | undefined> {
  const [row] = await db
    .select({ id: users.id, handle: users.handle, displayName: users.displayName, status: users.status })
    .from(users)
    .where(eq(users.id, id));
  return row;
}

export function toFriend(user: TargetUser, row: Pick<FriendRow, "isFavorite" | "isBlocked"> | undefined): Friend {
  return { user: publicUser(user), favorite: row?.isFavorite ?? false, blocked: row?.isBlocked ?? false };
}

/** The owner's row for that friend, locked until the transaction ends so concurrent changes queue. */
export async function lockFriendRow(tx: Tx, ownerId: string, friendId: string): Promise<FriendRow | undefined> {
  const [row] = await tx.select().from(friends).where(pair(ownerId, friendId)).for("update");
  return row;
}

export async function recordAction(tx: Tx, ownerId: string, friendId: string, action: Code<typeof FriendAction>) {
  await tx.insert(friendHistory).values({ ownerId, friendId, action });
}

/** Whether the owner's last add-or-delete of that friend was an add: what an unblock returns to. */
async function lastChoiceWasAdd(tx: Tx, ownerId: string, friendId: string): Promise<boolean> {
  const [last] = await tx
    .select({ action: friendHistory.action })
    .from(friendHistory)
    .where(
      and(
        eq(friendHistory.ownerId, ownerId),
        eq(friendHistory.friendId, friendId),
        inArray(friendHistory.action, [FriendAction.added, FriendAction.deleted]),
      ),
    )
    // ids grow in insert order; `at` is the transaction's start time and can tie
    .orderBy(desc(friendHistory.id))
    .limit(1);
  return last?.action === FriendAction.added;
}

/**
 * Adds (or revives) the friend. A row the owner has blocked stays blocked, but the add is still
 * recorded so that lifting the block later brings the friend back rather than leaving them deleted.
 */
export async function addFriend(tx: Tx, ownerId: string, friendId: string): Promise<FriendRow> {
  const [changed] = await tx
    .insert(friends)
    .values({ ownerId, friendId, status: FriendStatus.added })
    .onConflictDoUpdate({
      target: [friends.ownerId, friends.friendId],
      set: {
        status: sql`case when ${friends.isBlocked} then ${FriendStatus.blocked}::smallint else ${FriendStatus.added}::smallint end`,
        updatedAt: sql`now()`,
      },
      // an added or blocked row is left alone: PUT is idempotent and writes no second history row
      setWhere: eq(friends.status, FriendStatus.deleted),
    })
    .returning();
  if (changed) {
    await recordAction(tx, ownerId, friendId, FriendAction.added);
    return changed;
  }
  const current = await lockFriendRow(tx, ownerId, friendId);
  if (!current) throw new Error("friends row vanished between upsert and lock");
  if (current.status === FriendStatus.blocked && !(await lastChoiceWasAdd(tx, ownerId, friendId))) {
    await recordAction(tx, ownerId, friendId, FriendAction.added);
  }
  return current;
}

/** Marks the friend deleted; blocks stay as they are. Undefined when there was no listed row. */
export async function deleteFriend(tx: Tx, ownerId: string, friendId: string): Promise<FriendRow | undefined> {
  const [row] = await tx
    .update(friends)
    .set({ status: FriendStatus.deleted, isFavorite: false, updatedAt: sql`now()` })
    .where(and(pair(ownerId, friendId), inArray(friends.status, LISTED)))
    .returning();
  if (row) await recordAction(tx, ownerId, friendId, FriendAction.deleted);
  return row;
}

export async function setFavorite(tx: Tx, row: FriendRow, favorite: boolean): Promise<FriendRow> {
  if (row.isFavorite === favorite) return row;
  const [updated] = await tx
    .update(friends)
    .set({ isFavorite: favorite, updatedAt: sql`now()` })
    .where(eq(friends.id, row.id))
    .returning();
  await recordAction(tx, row.ownerId, row.friendId, favorite ? FriendAction.favorited : FriendAction.unfavorited);
  return updated!;
}

export interface BlockChange {
  row: FriendRow | undefined;
  /** whether anything was written (so the pair's direct room got a new membership version) */
  changed: boolean;
  /** the direct room between the pair whose membership version moved, for the realtime layer */
  room: { id: string; membershipVersion: number } | null;
}

/**
 * Blocking is one action over two stores: the owner's friend row (created if the blocked user was
 * never a friend) and the user_block row that rooms and search consult, each with its history,
 * plus a new membership version of the pair's direct room so its Durable Object learns of it.
 */
export async function block(
  tx: Tx,
  ownerId: string,
  friendId: string,
  current: FriendRow | undefined,
): Promise<BlockChange> {
  let row = current;
  let friendChanged = false;
  if (!row) {
    [row] = await tx
      .insert(friends)
      .values({ ownerId, friendId, status: FriendStatus.blocked, isBlocked: true })
      .onConflictDoNothing({ target: [friends.ownerId, friends.friendId] })
      .returning();
    friendChanged = row !== undefined;
    // a concurrent request created it first: take its row, under the lock, and go on from there
    row ??= await lockFriendRow(tx, ownerId, friendId);
  }
  if (!row) throw new Error("friends row vanished between insert and lock");
  if (!row.isBlocked || row.status !== FriendStatus.blocked) {
    [row] = await tx
      .update(friends)
      .set({ isBlocked: true, status: FriendStatus.blocked, updatedAt: sql`now()` })
      .where(eq(friends.id, row.id))
      .returning();
    friendChanged = true;
  }
  if (friendChanged) await recordAction(tx, ownerId, friendId, FriendAction.blocked);

  const [activated] = await tx
    .insert(userBlock)
    .values({ blockerId: ownerId, blockedId: friendId, status: BlockStatus.active })
    .onConflictDoUpdate({
      target: [userBlock.blockerId, userBlock.blockedId],
      set: { status: BlockStatus.active, updatedAt: sql`now()` },
      setWhere: sql`${userBlock.status} <> ${BlockStatus.active}`,
    })
    .returning({ id: userBlock.id });
  if (activated)
    await tx.insert(userBlockHistory).values({ blockerId: ownerId, blockedId: friendId, status: BlockStatus.active });

  const changed = friendChanged || activated !== undefined;
  return { row, changed, room: changed ? await bumpDirectRoom(tx, ownerId, friendId) : null };
}

/** Lifts the block; the friend row returns to what the owner last chose (added or deleted). */
export async function unblock(
  tx: Tx,
  ownerId: string,
  friendId: string,
  current: FriendRow | undefined,
): Promise<BlockChange> {
  let row = current;
  let friendChanged = false;
  if (row && (row.isBlocked || row.status === FriendStatus.blocked)) {
    const status = (await lastChoiceWasAdd(tx, ownerId, friendId)) ? FriendStatus.added : FriendStatus.deleted;
    [row] = await tx
      .update(friends)
      // a deleted friend is never a favorite (as after DELETE)
      .set({
        isBlocked: false,
        status,
        isFavorite: status === FriendStatus.added && row.isFavorite,
        updatedAt: sql`now()`,
      })
      .where(eq(friends.id, row.id))
      .returning();
    await recordAction(tx, ownerId, friendId, FriendAction.unblocked);
    friendChanged = true;
  }

  const [lifted] = await tx
    .update(userBlock)
    .set({ status: BlockStatus.lifted, updatedAt: sql`now()` })
    .where(
      and(
        eq(userBlock.blockerId, ownerId),
        eq(userBlock.blockedId, friendId),
        eq(userBlock.status, BlockStatus.active),
      ),
    )
    .returning({ id: userBlock.id });
  if (lifted)
    await tx.insert(userBlockHistory).values({ blockerId: ownerId, blockedId: friendId, status: BlockStatus.lifted });

  const changed = friendChanged || lifted !== undefined;
  return { row, changed, room: changed ? await bumpDirectRoom(tx, ownerId, friendId) : null };
}
