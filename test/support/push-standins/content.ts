// One notification as the relay's dispatcher hands it to a provider, for the provider tests.
import type { PushContent } from "../../../push-relay/providers/types.js";

export function pushContent(over: Partial<PushContent> = {}): PushContent {
  return {
    room_id: "room-1",
    seq: 7,
    title: "Team chat",
    body: "lunch at noon?",
    count: 2,
    badge: 5,
    mentioned: false,
    collapse_key: "room-1",
    ttl_seconds: 3600,
    ...over,
  };
}
