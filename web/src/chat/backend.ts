// Everything the app asks of the server, in the app's words. The one implementation is the SDK
// (sdk-backend.ts over client/): the views never speak HTTP or WebSocket themselves, so the SDK's
// auth, reconnects, replay and outbox are the only way data comes in or goes out.
import type { Friend, Message, PublicUser, Room, RoomListEntry, RoomMemberDetail } from "../../../protocol/index.js";
import type { PendingSend } from "../lib/timeline.js";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "offline" | "closed";
export type Unsubscribe = () => void;

export interface Activity {
  room_id: string;
  last_seq: number;
  unread_count: number;
  message?: Message;
  mentioned?: boolean;
}

export interface Presence {
  user_id: string;
  status: "online" | "offline";
  last_seen_at?: string;
}

export interface RoomEvent {
  room_id: string;
  event: "created" | "member_added" | "member_removed" | "updated" | "settings";
}

export interface BackendEvents {
  state: ConnectionState;
  activity: Activity;
  read_sync: { room_id: string; read_seq: number };
  presence: Presence;
  room: RoomEvent;
  /** the session ended (signed out elsewhere, or the refresh token was refused) */
  signed_out: { reason: string };
}

export interface Receipt {
  user_id: string;
  read_seq?: number;
  delivered_seq?: number;
}

/** A send this device queued and the room has not acknowledged yet (it survives reloads). */
export type QueuedSend = PendingSend;

/** An edit or delete this device queued and the room has not applied yet. */
export interface QueuedChange {
  op_id: string;
  seq: number;
  kind: "edit" | "delete";
  state: "pending" | "failed";
  error?: string;
}

/** What this device still has to send in a room, in queue order. */
export interface Queued {
  sends: QueuedSend[];
  changes: QueuedChange[];
}

export interface ChannelEvents {
  /** a message, in seq order, each once (replayed, paged to fill a gap, or live) */
  message: Message;
  /** a message changed: its current version */
  update: Message;
  receipt: Receipt;
  typing: { user_id: string };
  /** what this device still has to send here (after every change of it) */
  outbox: Queued;
  /** the stream stopped for good: removed from the room, or the room is gone (`message` says why) */
  closed: { reason: string; message?: string };
}

export interface SendInput {
  body: string;
  mentions: string[];
  mention_all?: boolean;
}

/** An open room: its stream, resumed after every reconnect. */
export interface Channel {
  readonly roomId: string;
  on<K extends keyof ChannelEvents>(type: K, fn: (event: ChannelEvents[K]) => void): Unsubscribe;
  /** the messages the stream delivered before the view listened (its replay) */
  held(): Message[];
  /** what this device still has to send here (after a reload too) */
  queued(): Queued;
  /** queues a send (the outbox event shows it pending); resolves once, with the room's seq */
  send(input: SendInput): Promise<{ seq: number }>;
  /** a failed send, edit or delete (by its client_message_id or op_id) goes again */
  retry(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  edit(seq: number, body: string): Promise<void>;
  remove(seq: number): Promise<void>;
  markRead(seq: number): void;
  typing(): void;
  /** newest first, older than `beforeSeq` (the newest page when absent) */
  history(o: { beforeSeq?: number; limit: number }): Promise<{ messages: Message[]; has_more: boolean }>;
  close(): void;
}

export interface Backend {
  /** the session a previous visit left (stored by the SDK), or null */
  restore(): Promise<PublicUser | null>;
  register(b: { handle: string; password: string; display_name: string }): Promise<PublicUser>;
  login(b: { handle: string; password: string }): Promise<PublicUser>;
  logout(): Promise<void>;
  on<K extends keyof BackendEvents>(type: K, fn: (event: BackendEvents[K]) => void): Unsubscribe;

  rooms(): Promise<RoomListEntry[]>;
  room(roomId: string): Promise<{ room: Room; members: RoomMemberDetail[] }>;
  openDirect(peerId: string): Promise<Room>;
  createGroup(name: string, memberIds: string[]): Promise<Room>;
  addMembers(roomId: string, userIds: string[]): Promise<string[]>;
  open(roomId: string): Promise<Channel>;

  friends(): Promise<Friend[]>;
  addFriend(userId: string): Promise<Friend>;
  setFavorite(userId: string, favorite: boolean): Promise<Friend>;
  searchUsers(q: string): Promise<PublicUser[]>;
  watchPresence(userIds: string[]): void;
}

/** An error from the backend as a person reads it. */
export function describeError(err: unknown): string {
  if (err && typeof err === "object" && "message" in err && typeof err.message === "string") return err.message;
  return String(err);
}
