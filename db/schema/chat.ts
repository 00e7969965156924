// The chat store: rooms, their metadata and members, and per-room role permissions.
// Messages are not here: their order lives in the ChatRoom Durable Object, their archive in Cassandra.
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  pgTable,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { at, createdAt, updatedAt } from "./columns.js";

export const chatRooms = pgTable(
  "chat_rooms",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomType: smallint("room_type").notNull(),
    status: smallint("status").notNull(),
    name: text("name"),
    // "<smaller user id>:<larger user id>" for direct rooms, so a pair has one room
    directKey: text("direct_key"),
    createdBy: uuid("created_by").notNull(),
    // bumped by every membership, role or block change; the ChatRoom DO applies versions in order
    membershipVersion: bigint("membership_version", { mode: "number" }).notNull().default(0),
    // the highest seq the room's object has given out, as far as PostgreSQL heard (forward only): a
    // room that lost its storage continues after it (and after the archive's), never reusing a seq
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("chat_rooms_direct_key")
      .on(t.directKey)
      .where(sql`${t.directKey} is not null`),
  ],
);

export const chatRoomMetadata = pgTable("chat_room_metadata", {
  roomId: uuid("room_id")
    .primaryKey()
    .references(() => chatRooms.id),
  description: text("description"),
  notice: text("notice"),
  pinnedSeq: bigint("pinned_seq", { mode: "number" }),
  updatedBy: uuid("updated_by"),
  updatedAt: updatedAt(),
});

export const chatRoomMetadataHistory = pgTable(
  "chat_room_metadata_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => chatRooms.id),
    name: text("name"),
    description: text("description"),
    notice: text("notice"),
    pinnedSeq: bigint("pinned_seq", { mode: "number" }),
    changedBy: uuid("changed_by").notNull(),
    at: at(),
  },
  (t) => [index("chat_room_metadata_history_room_idx").on(t.roomId, t.at)],
);

export const chatMembers = pgTable(
  "chat_members",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => chatRooms.id),
    userId: uuid("user_id").notNull(),
    role: smallint("role").notNull(),
    status: smallint("status").notNull(),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
    leftAt: timestamp("left_at", { withTimezone: true }),
    muted: boolean("muted").notNull().default(false),
    hidden: boolean("hidden").notNull().default(false),
    lastReadSeq: bigint("last_read_seq", { mode: "number" }).notNull().default(0),
    // the room's last seq when this member joined (nothing at or below it is theirs to read): 0
    // for a room's first members, written by the room for later ones, null until it has. A room
    // that lost its storage takes it back from here, so a late joiner never gains older history.
    joinedSeq: bigint("joined_seq", { mode: "number" }),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("chat_members_room_user_key").on(t.roomId, t.userId),
    index("chat_members_user_active_idx")
      .on(t.userId)
      .where(sql`${t.leftAt} is null`),
  ],
);

export const chatRoomRoles = pgTable(
  "chat_room_roles",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => chatRooms.id),
    role: smallint("role").notNull(),
    canSend: boolean("can_send").notNull(),
    canPin: boolean("can_pin").notNull(),
    canKick: boolean("can_kick").notNull(),
    canEditNotice: boolean("can_edit_notice").notNull(),
    canInvite: boolean("can_invite").notNull(),
    canRename: boolean("can_rename").notNull(),
    // `mention_all` notifies every member: owners and admins by default
    canMentionAll: boolean("can_mention_all").notNull().default(false),
    // deleting another member's message (moderation): owners and admins by default; anyone may delete their own
    canDeleteAny: boolean("can_delete_any").notNull().default(false),
  },
  (t) => [uniqueIndex("chat_room_roles_room_role_key").on(t.roomId, t.role)],
);

export type RoomRow = typeof chatRooms.$inferSelect;
export type MemberRow = typeof chatMembers.$inferSelect;
export type RoleRow = typeof chatRoomRoles.$inferSelect;
