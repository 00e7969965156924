// Integer codes stored in status/type columns. Stored as integers (not enums) so that adding a
// state is a code change, not a migration; never renumber an existing value.
export const UserStatus = { active: 1, suspended: 2, deleted: 3 } as const;
// who may add a user to a group: anyone, or only the people the user added as friends
export const GroupAdds = { anyone: 1, friends: 2 } as const;
export const AuthProvider = { password: 1 } as const;
export const AuthEvent = { login: 1, refresh: 2, logout: 3, register: 4 } as const;
export const ClientPlatform = { unknown: 0, ios: 1, android: 2, web: 3, desktop: 4 } as const;
export const FriendStatus = { added: 1, deleted: 2, blocked: 3 } as const;
export const FriendAction = { added: 1, deleted: 2, blocked: 3, unblocked: 4, favorited: 5, unfavorited: 6 } as const;
export const BlockStatus = { active: 1, lifted: 2 } as const;
export const RoomType = { direct: 1, group: 2 } as const;
export const RoomStatus = { active: 1, deleted: 2, cleaned: 3 } as const;
export const MemberStatus = { active: 1, left: 2, removed: 3 } as const;
export const MemberRole = { member: 1, admin: 2, owner: 3 } as const;
export const PushPlatform = { apns: 1, fcm: 2, webpush: 3 } as const;
export const PushEnvironment = { production: 1, sandbox: 2 } as const;
// user_devices.retired_reason (text, so it reads in SQL): why a token stopped receiving pushes.
// The API retires on moved / removed / logout, the relay on the providers' answers.
export const DeviceRetiredReason = {
  moved: "moved",
  removed: "removed",
  logout: "logout",
  unregistered: "unregistered",
  bad_token: "bad_token",
} as const;
// a notification waits (pending), was handed to at least one device's provider (sent), or none
// took it (failed: no active device, every attempt refused, or retries spent); read: the user read
// the room before it was sent, so it never will be (read_at is set on sent ones too)
export const PushStatus = { pending: 1, sent: 2, failed: 3, read: 4 } as const;
// one device attempt: recorded = a provider without credentials (record-only) logged it
export const PushOutcome = {
  sent: 1,
  retry: 2,
  failed: 3,
  token_retired: 4,
  recorded: 5,
  config_fault: 6,
} as const;

export type Code<T> = T[keyof T];

export function nameOf<T extends Record<string, number>>(codes: T, value: number): keyof T {
  for (const [k, v] of Object.entries(codes)) if (v === value) return k as keyof T;
  throw new Error(`unknown code ${value}`);
}
