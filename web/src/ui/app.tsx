// The whole app: the sign-in screen until there is a session, then the chat shell.
import type { ChatApp } from "../chat/app-state.js";
import { AuthScreen } from "./auth-screen.js";
import { Shell } from "./shell.js";

export function App({ app }: { app: ChatApp }) {
  switch (app.phase.value) {
    case "starting":
      return (
        <main class="splash" aria-busy="true">
          <p>Loading…</p>
        </main>
      );
    case "signed-out":
      return <AuthScreen app={app} />;
    case "signed-in":
      return <Shell app={app} />;
  }
}
