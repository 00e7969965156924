// The auth store: credentials, refresh-token families and the audit log of auth events.
// user_id columns point into the user store, so they carry no foreign key (stores are separable).
import {
  bigserial,
  boolean,
  index,
  integer,
  pgTable,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from "drizzle-orm/pg-core";
import { at, createdAt, updatedAt } from "./columns.js";

export const authAccounts = pgTable(
  "auth_accounts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull(),
    provider: smallint("provider").notNull(),
    // for the password provider: the lower-case handle
    identifier: text("identifier").notNull(),
    passwordHash: text("password_hash"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("auth_accounts_provider_identifier_key").on(t.provider, t.identifier),
    index("auth_accounts_user_idx").on(t.userId),
  ],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull(),
    // SHA-256 of the opaque token; the token itself is never stored
    tokenHash: text("token_hash").notNull(),
    familyId: uuid("family_id").notNull(),
    rotatedFrom: uuid("rotated_from").references((): AnyPgColumn => refreshTokens.id),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    rotatedAt: timestamp("rotated_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_key").on(t.tokenHash),
    index("refresh_tokens_family_idx").on(t.familyId),
    index("refresh_tokens_user_idx").on(t.userId),
  ],
);

// Login attempts per throttle key ("h:<handle>", "hi:<handle>|<ip>", "i:<ip>") in a fixed window:
// counted by the login statement itself before any password is hashed, so simultaneous attempts
// cannot all slip through (workers/auth/login-attempt.ts).
export const loginAttempts = pgTable(
  "login_attempts",
  {
    key: text("key").primaryKey(),
    attempts: integer("attempts").notNull(),
    windowStartedAt: timestamp("window_started_at", { withTimezone: true }).notNull(),
  },
  // for pruning the windows that ended
  (t) => [index("login_attempts_window_idx").on(t.windowStartedAt)],
);

export const authLogs = pgTable(
  "auth_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: uuid("user_id"),
    // the handle as typed, so failures for unknown handles are throttled too
    handle: text("handle"),
    event: smallint("event").notNull(),
    success: boolean("success").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    at: at(),
  },
  (t) => [index("auth_logs_handle_idx").on(t.handle, t.at), index("auth_logs_ip_idx").on(t.ip, t.at)],
);
