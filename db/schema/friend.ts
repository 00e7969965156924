// The friend store. A row means its owner added that friend (no request, no approval); a mutual
// friendship is two rows, each made by its owner's own add.
import { bigserial, boolean, index, pgTable, smallint, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, updatedAt } from "./columns.js";

export const friends = pgTable(
  "friends",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: uuid("owner_id").notNull(),
    friendId: uuid("friend_id").notNull(),
    status: smallint("status").notNull(),
    isFavorite: boolean("is_favorite").notNull().default(false),
    isBlocked: boolean("is_blocked").notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("friends_owner_friend_key").on(t.ownerId, t.friendId),
    index("friends_friend_idx").on(t.friendId),
  ],
);

export const friendHistory = pgTable(
  "friend_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    ownerId: uuid("owner_id").notNull(),
    friendId: uuid("friend_id").notNull(),
    action: smallint("action").notNull(),
    at: at(),
  },
  (t) => [index("friend_history_owner_idx").on(t.ownerId, t.at)],
);
