// Request bodies and queries of the HTTP API (PROTOCOL.md), as zod schemas. Objects are strict:
// an unknown field is an error, so a typo never silently does nothing.
import { z } from "zod";
import * as L from "./limits.js";
import { nameProblem } from "./text.js";

export const Id = z.uuid({ message: "must be a UUID" });

/** Counts Unicode code points, not UTF-16 units, so an emoji counts once. */
export const codePoints = (s: string) => [...s].length;

// Bounds checked on every frame and message: most strings are far inside them, and the length in
// UTF-16 units bounds both counts (a unit is one code point at most, and 1-3 bytes of UTF-8; a
// pair is 4 bytes), so only a string near a bound is counted or encoded.
/** whether `s` has at most `max` code points */
export const withinCodePoints = (s: string, max: number) => s.length <= max || codePoints(s) <= max;
/** whether `s` is at most `max` bytes as UTF-8 (an unpaired surrogate counts as U+FFFD's 3) */
export const withinUtf8Bytes = (s: string, max: number) =>
  s.length <= max && (s.length * 3 <= max || new TextEncoder().encode(s).length <= max);

// Names people see: bounded, and nothing that hides or reorders them (protocol/text.ts).
const humanText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .refine((s) => withinCodePoints(s, max), `must be at most ${max} characters`)
    .superRefine((s, ctx) => {
      const problem = nameProblem(s);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

export const Handle = z
  .string()
  .min(L.HANDLE_MIN)
  .max(L.HANDLE_MAX)
  .regex(/^[A-Za-z0-9_.]+$/, "may contain only letters, digits, '_' and '.'")
  .transform((s) => s.toLowerCase());

export const Password = z.string().min(L.PASSWORD_MIN).max(L.PASSWORD_MAX);

export const RegisterBody = z.strictObject({
  handle: Handle,
  password: Password,
  display_name: humanText(L.DISPLAY_NAME_MAX),
});
/**
 * The id a client keeps per installation and opens its sockets with (tickets' `device_id`, the
 * form of a client message id): login, logout and push registrations name the device by it.
 */
export const ClientDeviceId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_\-:.]+$/, "may contain only letters, digits and - _ : .");

export const LoginBody = z.strictObject({
  handle: z
    .string()
    .min(1)
    .max(L.HANDLE_MAX)
    .transform((s) => s.toLowerCase()),
  password: z.string().min(1).max(L.PASSWORD_MAX),
  // a device that logged in before passes a handle's lock
  device_id: ClientDeviceId.optional(),
});
export const RefreshBody = z.strictObject({ refresh_token: z.string().min(1).max(200) });
// device_id: the id the device opened its sockets with; they close on logout
export const LogoutBody = z.strictObject({
  refresh_token: z.string().min(1).max(200),
  device_id: z.string().min(1).max(64).optional(),
});

export const GroupAddsSetting = z.enum(["anyone", "friends"]);
export type GroupAddsSetting = z.infer<typeof GroupAddsSetting>;
/** PATCH /users/me: `group_adds: "friends"` lets only people you added as friends add you to groups */
export const MePatchBody = z
  .strictObject({ display_name: humanText(L.DISPLAY_NAME_MAX).optional(), group_adds: GroupAddsSetting.optional() })
  .refine((b) => b.display_name !== undefined || b.group_adds !== undefined, "give display_name or group_adds");

export const UserSearchQuery = z.strictObject({
  q: z.string().trim().min(1).max(L.DISPLAY_NAME_MAX),
  limit: z.coerce.number().int().min(1).max(L.USER_SEARCH_LIMIT_MAX).default(20),
});

export const FriendPatchBody = z
  .strictObject({ favorite: z.boolean().optional(), blocked: z.boolean().optional() })
  .refine((b) => b.favorite !== undefined || b.blocked !== undefined, "give favorite or blocked");

export const CreateRoomBody = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("direct"), peer_id: Id }),
  z.strictObject({
    type: z.literal("group"),
    name: humanText(L.ROOM_NAME_MAX),
    // the creator is the 1,000th member
    member_ids: z
      .array(Id)
      .max(L.MAX_GROUP_MEMBERS - 1, `a group has at most ${L.MAX_GROUP_MEMBERS} members, the creator included`),
  }),
]);

export const RoomPatchBody = z
  .strictObject({
    name: humanText(L.ROOM_NAME_MAX).optional(),
    notice: z.string().max(L.ROOM_NOTICE_MAX).nullable().optional(),
    description: z.string().max(L.ROOM_DESCRIPTION_MAX).nullable().optional(),
    pinned_seq: z.number().int().positive().nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "give at least one of name, notice, description, pinned_seq");

export const AddMembersBody = z.strictObject({
  user_ids: z
    .array(Id)
    .min(1)
    .max(L.MAX_GROUP_MEMBERS - 1),
});
export const RoleName = z.enum(["member", "admin", "owner"]);
export const MemberPatchBody = z.strictObject({ role: RoleName });
export const MyRoomSettingsBody = z
  .strictObject({ muted: z.boolean().optional(), hidden: z.boolean().optional() })
  .refine((b) => b.muted !== undefined || b.hidden !== undefined, "give muted or hidden");

// device_id: the id the client opens its sockets with, so logging that device out retires its token
const deviceMeta = {
  app_id: z.string().min(1).max(255).optional(),
  name: z.string().max(100).optional(),
  device_id: ClientDeviceId.optional(),
};
const webPushEndpoint = z
  .url({ protocol: /^https$/, message: "must be the https endpoint of a push subscription" })
  .max(L.PUSH_TOKEN_MAX);
export const PushEnvironmentName = z.enum(["production", "sandbox"]);
export type PushEnvironmentName = z.infer<typeof PushEnvironmentName>;
/**
 * POST /devices. Web Push takes either this API's own shape (`token` = the endpoint) or what a
 * browser's `PushSubscription.toJSON()` gives (`endpoint`, `expirationTime`, `keys`), with or
 * without `platform`, so a web client can post its subscription as it is.
 */
export const DeviceBody = z.discriminatedUnion("platform", [
  // APNs device tokens are hex (64 today; Apple says not to assume a length); a token belongs to
  // one APNs environment (a development build's is sandbox), default production
  z.strictObject({
    platform: z.literal("apns"),
    token: z.string().regex(/^[0-9a-fA-F]{32,400}$/, "must be a hex APNs device token"),
    environment: PushEnvironmentName.optional(),
    ...deviceMeta,
  }),
  z.strictObject({ platform: z.literal("fcm"), token: z.string().min(1).max(L.PUSH_TOKEN_MAX), ...deviceMeta }),
  z
    .strictObject({
      platform: z.literal("webpush").optional(),
      token: webPushEndpoint.optional(),
      endpoint: webPushEndpoint.optional(),
      // the browser's own expiry hint; a dead subscription is retired when its push service says so
      expirationTime: z.number().nonnegative().nullable().optional(),
      keys: z.strictObject({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }),
      ...deviceMeta,
    })
    .refine((b) => (b.token === undefined) !== (b.endpoint === undefined), {
      message:
        "give the endpoint once: `token` with platform webpush, or `endpoint` as PushSubscription.toJSON() has it",
    })
    .refine((b) => b.platform !== undefined || b.endpoint !== undefined, {
      message: 'give platform ("apns", "fcm" or "webpush"), or a Web Push subscription\'s endpoint',
    }),
]);

export type RegisterBody = z.infer<typeof RegisterBody>;
export type CreateRoomBody = z.infer<typeof CreateRoomBody>;
export type DeviceBody = z.infer<typeof DeviceBody>;
export type RoleName = z.infer<typeof RoleName>;
