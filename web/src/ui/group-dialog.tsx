// A modal to pick friends: for a new group (with its name) or to add people to a group. A native
// <dialog>: it keeps focus inside, and Escape closes it.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { ROOM_NAME_MAX } from "../../../protocol/limits.js";
import { describeError } from "../chat/backend.js";
import type { ChatApp } from "../chat/app-state.js";

export function GroupDialog(props: {
  app: ChatApp;
  title: string;
  submitLabel: string;
  withName?: boolean;
  /** people who cannot be picked (already members) */
  exclude?: ReadonlySet<string>;
  onSubmit(v: { name: string; ids: string[] }): Promise<void>;
  onClose(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const busy = useSignal(false);
  const error = useSignal<string | null>(null);
  const candidates = props.app.friends.value.filter((f) => !f.blocked && !props.exclude?.has(f.user.id));

  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const onClose = () => props.onClose();
    d.addEventListener("close", onClose);
    return () => d.removeEventListener("close", onClose);
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const ids = form.getAll("member").map(String);
    const name = String(form.get("name") ?? "").trim();
    if (!props.withName && ids.length === 0) {
      error.value = "Pick at least one person.";
      return;
    }
    busy.value = true;
    error.value = null;
    try {
      await props.onSubmit({ name, ids });
      ref.current?.close();
    } catch (err) {
      error.value = describeError(err);
    } finally {
      busy.value = false;
    }
  }

  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title">
      <form method="dialog" onSubmit={submit}>
        <h2 id="dialog-title">{props.title}</h2>
        {props.withName && (
          <label>
            Group name
            <input name="name" required maxLength={ROOM_NAME_MAX} autoFocus />
          </label>
        )}
        <fieldset>
          <legend>{props.withName ? "Members" : "People to add"}</legend>
          {candidates.length === 0 ? (
            <p class="hint">Only friends can be picked here: add friends under People first.</p>
          ) : (
            <ul class="pick-list">
              {candidates.map((f) => (
                <li key={f.user.id}>
                  <label class="check">
                    <input type="checkbox" name="member" value={f.user.id} />
                    {f.user.display_name} <span class="handle">@{f.user.handle}</span>
                  </label>
                </li>
              ))}
            </ul>
          )}
        </fieldset>
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy.value}>
            {props.submitLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
