// The sidebar: my chats (with a new-group button) and people (search, friends), as two tabs.
import { useSignal } from "@preact/signals";
import type { ChatApp } from "../chat/app-state.js";
import { GroupDialog } from "./group-dialog.js";
import { People } from "./people.js";
import { RoomList } from "./room-list.js";

export function Sidebar({ app }: { app: ChatApp }) {
  const tab = useSignal<"chats" | "people">("chats");
  const creating = useSignal(false);
  const unread = app.unread.value;

  const tabButton = (id: "chats" | "people", label: string, extra?: string) => (
    <button
      type="button"
      role="tab"
      id={`tab-${id}`}
      aria-selected={tab.value === id}
      aria-controls={`panel-${id}`}
      tabIndex={tab.value === id ? 0 : -1}
      onClick={() => (tab.value = id)}
      onKeyDown={(e) => {
        if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          tab.value = tab.value === "chats" ? "people" : "chats";
          document.getElementById(`tab-${tab.value}`)?.focus();
        }
      }}
    >
      {label}
      {extra}
    </button>
  );

  return (
    <nav class="sidebar" aria-label="Chats and people">
      <div class="tabs" role="tablist">
        {tabButton("chats", "Chats", unread > 0 ? ` (${unread})` : "")}
        {tabButton("people", "People")}
      </div>
      <section id="panel-chats" role="tabpanel" aria-labelledby="tab-chats" hidden={tab.value !== "chats"}>
        <div class="panel-actions">
          <button type="button" onClick={() => (creating.value = true)}>
            New group
          </button>
        </div>
        <RoomList app={app} />
      </section>
      <section id="panel-people" role="tabpanel" aria-labelledby="tab-people" hidden={tab.value !== "people"}>
        <People
          app={app}
          onOpened={() => {
            tab.value = "chats";
          }}
        />
      </section>
      {creating.value && (
        <GroupDialog
          app={app}
          title="New group"
          submitLabel="Create group"
          withName
          onClose={() => (creating.value = false)}
          onSubmit={async ({ name, ids }) => {
            await app.createGroup(name, ids);
            tab.value = "chats";
          }}
        />
      )}
    </nav>
  );
}
