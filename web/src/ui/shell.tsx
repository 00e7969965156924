// The signed-in layout: the connection banner, the sidebar (chats and people), the open chat.
import { useEffect } from "preact/hooks";
import type { ChatApp } from "../chat/app-state.js";
import { roomFromPath } from "../chat/app-state.js";
import { ConnectionBanner } from "./banner.js";
import { ChatView } from "./chat-view.js";
import { Sidebar } from "./sidebar.js";

export function Shell({ app }: { app: ChatApp }) {
  const me = app.me.value!;
  const view = app.view.value;

  // the browser's back and forward buttons move between rooms
  useEffect(() => {
    const onPop = () => {
      const id = roomFromPath(location.pathname);
      if (id) void app.openRoom(id, { push: false });
      else app.closeRoom();
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, [app]);

  useEffect(() => {
    const n = app.unread.value;
    document.title = n > 0 ? `(${n}) edge-chat` : "edge-chat";
  }, [app.unread.value]);

  return (
    <div class={`shell${view ? " has-room" : ""}`}>
      <ConnectionBanner app={app} />
      <header class="topbar">
        <span class="brand">edge-chat</span>
        <span class="whoami">
          Signed in as <strong>{me.display_name}</strong> <span class="handle">@{me.handle}</span>
        </span>
        <button type="button" onClick={() => void app.logout()}>
          Log out
        </button>
      </header>
      {app.notice.value && (
        <div class="notice" role="alert">
          <span>{app.notice.value}</span>
          <button type="button" class="link" onClick={() => (app.notice.value = null)}>
            Dismiss
          </button>
        </div>
      )}
      <Sidebar app={app} />
      <main class="chat-pane">
        {view ? (
          <ChatView key={view.roomId} app={app} view={view} />
        ) : (
          <div class="empty-chat">
            <h2>No chat open</h2>
            <p>Pick a chat on the left, or find people to talk to.</p>
          </div>
        )}
      </main>
    </div>
  );
}
