import { createApp } from "./app.js";
import type { Env } from "./env.js";

export { ChatRoom } from "../durable-objects/chat-room/index.js";
export { UserSession } from "../durable-objects/user-session/index.js";
export { RateLimiter } from "../durable-objects/rate-limiter/index.js";
export { RoomSyncRetry } from "../durable-objects/room-sync-retry/index.js";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
