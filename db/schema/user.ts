// The user store: identities, devices, login history and blocks between users.
import { sql } from "drizzle-orm";
import { bigserial, boolean, index, pgTable, smallint, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { GroupAdds, UserStatus } from "../codes.js";
import { at, createdAt, updatedAt } from "./columns.js";

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // stored lower-case; the API normalises before every lookup
    handle: text("handle").notNull(),
    displayName: text("display_name").notNull(),
    status: smallint("status").notNull().default(UserStatus.active),
    // GroupAdds: whether anyone may add this user to a group, or only people they added as friends
    groupAdds: smallint("group_adds").notNull().default(GroupAdds.anyone),
    // set by the user's session when its first socket opens, cleared when its last one closes: a
    // hint of who may be online, so a new room wakes only those sessions (db/online-hint.ts)
    onlineSince: timestamp("online_since", { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("users_handle_key").on(t.handle),
    // prefix search (LIKE 'abc%') needs pattern ops to use a btree under a non-C collation
    index("users_handle_prefix_idx").using("btree", sql`${t.handle} text_pattern_ops`),
    index("users_display_name_prefix_idx").using("btree", sql`lower(${t.displayName}) text_pattern_ops`),
  ],
);

export const userDevices = pgTable(
  "user_devices",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    platform: smallint("platform").notNull(),
    // APNs / FCM registration token, or the Web Push endpoint URL
    token: text("token").notNull(),
    // Web Push subscription keys (RFC 8291); null for APNs and FCM
    p256dh: text("p256dh"),
    authSecret: text("auth_secret"),
    appId: text("app_id"),
    name: text("name"),
    /** APNs only: PushEnvironment (a sandbox token is BadDeviceToken in production and back) */
    environment: smallint("environment"),
    /** the device_id the client uses for its sockets: logging that device out retires its token */
    clientDeviceId: text("client_device_id"),
    active: boolean("active").notNull().default(true),
    /** why the token stopped receiving: unregistered, bad_token, moved, logout, removed */
    retiredReason: text("retired_reason"),
    retiredAt: timestamp("retired_at", { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // A push token identifies one installation, so one user at a time holds it. Registering it
    // elsewhere moves it: the old holder's row is retired ("moved") and stays, so the delivery
    // logs that point at it keep naming the user they were sent to.
    uniqueIndex("user_devices_active_token_key")
      .on(t.platform, t.token)
      .where(sql`active`),
    // one row per user and token, reactivated when the token comes back (it also serves user_id lookups)
    uniqueIndex("user_devices_user_token_key").on(t.userId, t.platform, t.token),
    index("user_devices_client_device_idx").on(t.userId, t.clientDeviceId),
  ],
);

export const userLoginHistory = pgTable(
  "user_login_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    platform: smallint("platform").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    // the device_id the client logged in with, if it said: a known device passes a handle's lock
    deviceId: text("device_id"),
    at: at(),
  },
  (t) => [index("user_login_history_user_idx").on(t.userId, t.at)],
);

export const userBlock = pgTable(
  "user_block",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    blockerId: uuid("blocker_id")
      .notNull()
      .references(() => users.id),
    blockedId: uuid("blocked_id")
      .notNull()
      .references(() => users.id),
    status: smallint("status").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("user_block_pair_key").on(t.blockerId, t.blockedId),
    index("user_block_blocked_idx").on(t.blockedId),
  ],
);

export const userBlockHistory = pgTable("user_block_history", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  blockerId: uuid("blocker_id").notNull(),
  blockedId: uuid("blocked_id").notNull(),
  status: smallint("status").notNull(),
  at: at(),
});

export type UserRow = typeof users.$inferSelect;
export type DeviceRow = typeof userDevices.$inferSelect;
