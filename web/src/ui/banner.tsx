// Says when messages cannot go out right now. Hidden while connected; while reconnecting or
// offline it stays up, and what was sent meanwhile shows as pending in the chat.
import type { ChatApp } from "../chat/app-state.js";

const TEXT = {
  connecting: "Connecting…",
  reconnecting: "Connection lost. Reconnecting… Messages you send now are sent once it is back.",
  offline: "You are offline. Messages you send now are sent once you are back online.",
  closed: "Disconnected.",
} as const;

export function ConnectionBanner({ app }: { app: ChatApp }) {
  const state = app.connection.value;
  const shown = state !== "open";
  return (
    <div class={`banner banner-${state}`} role="status" aria-live="polite" hidden={!shown} data-state={state}>
      {shown ? TEXT[state] : ""}
    </div>
  );
}
