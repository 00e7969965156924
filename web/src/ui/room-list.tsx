// My rooms, latest activity first: title, last message, time, unread count, presence of a
// direct room's peer.
import type { ChatApp } from "../chat/app-state.js";
import { previewLine, timeLabel } from "../lib/format.js";
import { activityAt } from "../lib/room-list.js";
import { Avatar, presenceText } from "./avatar.js";

export function RoomList({ app }: { app: ChatApp }) {
  const rooms = app.rooms.value;
  const openId = app.view.value?.roomId;
  const meId = app.me.value!.id;
  // read so the names in previews and titles re-render when they are learned
  void app.people.value;
  const now = new Date();

  if (rooms.length === 0) return <p class="hint">No chats yet. Find people under People, or start a group.</p>;
  return (
    <ul class="room-list" aria-label="Chats">
      {rooms.map((e) => {
        const title = app.roomTitle(e);
        const peer = e.room.peer_id ? app.presence.value.get(e.room.peer_id) : undefined;
        const preview = e.last_message
          ? previewLine(e.last_message, { meId, group: e.room.type === "group", nameOf: (id) => app.nameOf(id) })
          : e.room.type === "group"
            ? `${e.room.member_count} members`
            : "No messages yet";
        const unread = e.unread_count;
        const label = [title, peer ? presenceText(peer) : "", unread ? `${unread} unread` : ""]
          .filter(Boolean)
          .join(", ");
        return (
          <li key={e.room.id}>
            <button
              type="button"
              class={`room${openId === e.room.id ? " current" : ""}${unread ? " unread" : ""}`}
              aria-current={openId === e.room.id ? "page" : undefined}
              aria-label={label}
              data-room-id={e.room.id}
              onClick={() => void app.openRoom(e.room.id)}
            >
              <Avatar name={title} presence={e.room.type === "direct" ? (peer?.status ?? "offline") : undefined} />
              <span class="room-text">
                <span class="room-title">{title}</span>
                <span class="room-preview">{preview}</span>
              </span>
              <span class="room-meta">
                <time dateTime={activityAt(e)}>{timeLabel(activityAt(e), { now })}</time>
                {unread > 0 && (
                  <span class="badge" aria-hidden="true">
                    {unread > 99 ? "99+" : unread}
                  </span>
                )}
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
