// A room member as the ChatRoom stores it, with every offset at 0: what the room's unit tests start
// from, overriding only what a test is about.
import type { MemberState } from "../../durable-objects/chat-room/members.js";

export const roomMember = (user_id: string, over: Partial<MemberState> = {}): MemberState => ({
  user_id,
  role: "member",
  can_send: true,
  joined_at: "2026-01-01T00:00:00.000Z",
  joined_seq: 0,
  read_seq: 0,
  delivered_seq: 0,
  subscribed: false,
  ...over,
});
