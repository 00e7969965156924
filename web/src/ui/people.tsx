// People: search by handle or name, add as a friend, start a chat; my friends (favorites first)
// with their presence.
import { useSignal } from "@preact/signals";
import type { PublicUser } from "../../../protocol/index.js";
import { describeError } from "../chat/backend.js";
import type { ChatApp } from "../chat/app-state.js";
import { Avatar, presenceText } from "./avatar.js";

export function People({ app, onOpened }: { app: ChatApp; onOpened: () => void }) {
  const results = useSignal<PublicUser[] | null>(null);
  const searching = useSignal(false);
  const error = useSignal<string | null>(null);
  const friends = [...app.friends.value].sort(
    (a, b) => Number(b.favorite) - Number(a.favorite) || a.user.display_name.localeCompare(b.user.display_name),
  );

  async function search(e: Event) {
    e.preventDefault();
    const q = String(new FormData(e.currentTarget as HTMLFormElement).get("q") ?? "").trim();
    if (!q) return;
    searching.value = true;
    error.value = null;
    try {
      results.value = await app.searchUsers(q);
    } catch (err) {
      error.value = describeError(err);
    } finally {
      searching.value = false;
    }
  }

  const open = async (id: string) => {
    await app.openDirect(id);
    onOpened();
  };

  return (
    <div class="people">
      <form class="search" role="search" onSubmit={search}>
        <label for="people-q">Find people</label>
        <div class="row">
          <input id="people-q" name="q" type="search" placeholder="Handle or name" maxLength={64} required />
          <button type="submit" disabled={searching.value}>
            Search
          </button>
        </div>
      </form>
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {results.value && (
        <section aria-label="Search results">
          {results.value.length === 0 ? (
            <p class="hint">Nobody found.</p>
          ) : (
            <ul class="person-list">
              {results.value.map((u) => (
                <li key={u.id} class="person" data-user-id={u.id}>
                  <Avatar name={u.display_name} />
                  <span class="person-name">
                    {u.display_name} <span class="handle">@{u.handle}</span>
                  </span>
                  {app.isFriend(u.id) ? (
                    <span class="tag">Friend</span>
                  ) : (
                    <button
                      type="button"
                      onClick={() => void app.addFriend(u)}
                      aria-label={`Add ${u.display_name} as a friend`}
                    >
                      Add friend
                    </button>
                  )}
                  <button type="button" onClick={() => void open(u.id)} aria-label={`Message ${u.display_name}`}>
                    Message
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <h2 class="section-title">Friends</h2>
      {friends.length === 0 ? (
        <p class="hint">No friends yet. Search for someone above.</p>
      ) : (
        <ul class="person-list" aria-label="Friends">
          {friends.map((f) => {
            const p = app.presence.value.get(f.user.id);
            return (
              <li key={f.user.id} class="person" data-user-id={f.user.id}>
                <Avatar name={f.user.display_name} presence={p?.status ?? "offline"} />
                <span class="person-name">
                  {f.user.display_name} <span class="handle">@{f.user.handle}</span>
                  <span class="visually-hidden">{p ? `, ${presenceText(p)}` : ""}</span>
                </span>
                <button
                  type="button"
                  class={`star${f.favorite ? " on" : ""}`}
                  aria-pressed={f.favorite}
                  aria-label={`Favorite ${f.user.display_name}`}
                  onClick={() => void app.setFavorite(f.user.id, !f.favorite)}
                >
                  {f.favorite ? "★" : "☆"}
                </button>
                <button
                  type="button"
                  onClick={() => void open(f.user.id)}
                  aria-label={`Message ${f.user.display_name}`}
                >
                  Message
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
