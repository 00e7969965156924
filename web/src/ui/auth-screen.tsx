// Register or sign in: one form, two modes. The server's rules (handle 3-32 of letters, digits,
// "_" and "."; password at least 8) are stated where the fields are and checked by the browser
// first, so most mistakes never make a request.
import { useSignal } from "@preact/signals";
import { HANDLE_MAX, HANDLE_MIN, PASSWORD_MIN } from "../../../protocol/limits.js";
import { describeError } from "../chat/backend.js";
import type { ChatApp } from "../chat/app-state.js";

export function AuthScreen({ app }: { app: ChatApp }) {
  const mode = useSignal<"login" | "register">("login");
  const busy = useSignal(false);
  const error = useSignal<string | null>(app.notice.value);
  const registering = mode.value === "register";

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const handle = String(form.get("handle") ?? "").trim();
    const password = String(form.get("password") ?? "");
    busy.value = true;
    error.value = null;
    app.notice.value = null;
    try {
      if (registering) {
        const display_name = String(form.get("display_name") ?? "").trim();
        await app.register({ handle, password, display_name });
      } else {
        await app.login({ handle, password });
      }
    } catch (err) {
      error.value = describeError(err);
    } finally {
      busy.value = false;
    }
  }

  return (
    <main class="auth">
      <h1>edge-chat</h1>
      <form class="card" onSubmit={submit} aria-labelledby="auth-title">
        <h2 id="auth-title">{registering ? "Create an account" : "Sign in"}</h2>
        <label>
          Handle
          <input
            name="handle"
            autoComplete="username"
            required
            minLength={HANDLE_MIN}
            maxLength={HANDLE_MAX}
            pattern="[A-Za-z0-9_.]+"
            title="letters, digits, _ and ."
            autoFocus
          />
        </label>
        {registering && (
          <label>
            Display name
            <input name="display_name" autoComplete="name" required maxLength={64} />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            required
            minLength={registering ? PASSWORD_MIN : 1}
          />
        </label>
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy.value}>
          {registering ? "Create account" : "Sign in"}
        </button>
        <p class="switch">
          {registering ? "Have an account?" : "New here?"}{" "}
          <button
            type="button"
            class="link"
            onClick={() => {
              mode.value = registering ? "login" : "register";
              error.value = null;
            }}
          >
            {registering ? "Sign in" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}
