// What the relay's dispatcher asks of a push provider (APNs, FCM, Web Push), and the one shape of
// every answer. A provider turns the provider's own answer into an Outcome; the dispatcher alone
// decides what an outcome does to the token, the notification and the provider (retire, retry,
// pause), so those rules are written once.

export type ProviderName = "apns" | "fcm" | "webpush";

/** one active device of a recipient, as user_devices holds it */
export interface PushTarget {
  /** user_devices.id */
  device_id: string;
  platform: ProviderName;
  /** APNs device token (hex), FCM registration token, or the Web Push endpoint URL */
  token: string;
  /** APNs: which gateway the token belongs to */
  environment?: "production" | "sandbox";
  /** Web Push subscription keys (RFC 8291) */
  p256dh?: string;
  auth?: string;
  /** APNs topic (bundle id) / FCM app, when the device registered one */
  app_id?: string | null;
}

/** what one device is told: already cut to the provider's size limits by the caller's rules */
export interface PushContent {
  room_id: string;
  /** latest message it tells of */
  seq: number;
  /** the banner's title: the room's name, or the sender's display name in a direct room */
  title: string;
  /** the preview: may be shortened further by a provider to fit its payload limit, never the JSON */
  body: string;
  /** messages it stands for (a collapsed burst) */
  count: number;
  /** the recipient's total unread count (APNs badge) */
  badge: number;
  mentioned: boolean;
  /** the same for every notification of a room: one banner that updates (apns-collapse-id, tag, Topic) */
  collapse_key: string;
  /** seconds the provider may keep it for an offline device */
  ttl_seconds: number;
}

export type Outcome =
  /** the provider accepted it */
  | { kind: "sent"; status: number; id?: string }
  /** record-only provider (no credentials): what would have been sent is logged */
  | { kind: "recorded" }
  /**
   * the token is dead (410 Unregistered, BadDeviceToken, UNREGISTERED, Web Push 404/410), or can
   * never be sent to (a Web Push endpoint off the allow-list): retire it
   */
  | { kind: "retire"; status: number; reason: string }
  /** try again later (429, 5xx, transport errors); quota: a provider quota, back off longer */
  | { kind: "retry"; status: number; reason: string; retry_after_ms?: number; quota?: boolean }
  /** our configuration is wrong (topic, sender id, auth): alert, pause the provider, retire nothing */
  | { kind: "config"; status: number; reason: string }
  /** refused for this message only (other 4xx): failed, no retry */
  | { kind: "failed"; status: number; reason: string };

export interface PushProvider {
  readonly name: ProviderName;
  /** false when it runs record-only (no credentials configured) */
  readonly live: boolean;
  /**
   * Sends one notification to one device. Never throws: transport errors are `retry`. An expired
   * or refused credential (APNs 403 ExpiredProviderToken / InvalidProviderToken, FCM 401) is
   * renewed once and the request retried inside this call before an outcome is given.
   */
  send(target: PushTarget, content: PushContent): Promise<Outcome>;
  /** closes long-lived sessions (APNs HTTP/2) */
  close(): Promise<void>;
}
