// What the Durable Objects need from their environment. The edge Worker's Env extends this, so
// the objects never reach into workers/ for their settings.
import type { DbSettings } from "../db/index.js";
import type { TokenKeySettings } from "../lib/auth-tokens/index.js";
import type { ChatRoom } from "./chat-room/index.js";
import type { RoomSyncRetry } from "./room-sync-retry/index.js";
import type { UserSession } from "./user-session/index.js";

export interface ObjectEnv extends DbSettings, TokenKeySettings {
  CHAT_ROOM: DurableObjectNamespace<ChatRoom>;
  USER_SESSION: DurableObjectNamespace<UserSession>;
  ROOM_SYNC_RETRY: DurableObjectNamespace<RoomSyncRetry>;
  /** base URL of the cassandra-sink; unset: rooms keep their outbox and serve only their hot tail */
  SINK_URL?: string;
  /** shared secret the sink expects as `Authorization: Bearer …` */
  SINK_SECRET?: string;
  /** base URL of the push-relay; unset: rooms queue no push rows (nobody would take them) */
  PUSH_RELAY_URL?: string;
  /** shared secret the relay expects as `Authorization: Bearer …` */
  PUSH_RELAY_SECRET?: string;
}
