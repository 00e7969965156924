// One message: sender, time, body with mentions marked, (edited), ticks on my own, and edit and
// delete on my own. A send without a seq yet shows as pending (or failed, with retry and cancel).
import { useSignal } from "@preact/signals";
import type { Message, RoomMemberDetail } from "../../../protocol/index.js";
import type { ChatApp } from "../chat/app-state.js";
import type { QueuedChange, QueuedSend } from "../chat/backend.js";
import type { RoomView } from "../chat/room-view.js";
import { fullTime, timeLabel } from "../lib/format.js";
import { bodySegments, mentionsMe } from "../lib/mentions.js";
import { tickFor, tickLabel, type Offsets, type Tick } from "../lib/receipts.js";

const TICK_GLYPH: Record<Tick, string> = { pending: "…", failed: "!", sent: "✓", delivered: "✓✓", read: "✓✓" };

export function MessageItem(props: {
  app: ChatApp;
  view: RoomView;
  message: Message;
  members: RoomMemberDetail[];
  others: string[];
  offsets: Offsets;
  group: boolean;
  /** the previous message is the same sender's: the name is there for screen readers only */
  continued?: boolean;
}) {
  const { app, view, message: m } = props;
  const me = app.me.value!.id;
  const mine = m.sender_id === me;
  const deleted = m.status === "deleted";
  const editing = useSignal(false);
  const confirming = useSignal(false);
  const sender = mine ? "You" : app.nameOf(m.sender_id);
  const change = view.changes.value.get(m.seq);
  const { tick, readBy } = mine ? tickFor(m.seq, props.others, props.offsets) : { tick: "sent" as Tick, readBy: 0 };
  const classes = [
    "message",
    mine ? "mine" : "theirs",
    props.continued ? "continued" : "",
    deleted ? "deleted" : "",
    !mine && mentionsMe(m, me) ? "mentions-me" : "",
  ];

  return (
    <li
      class={classes.filter(Boolean).join(" ")}
      data-seq={m.seq}
      data-status={m.status ?? "sent"}
      data-tick={mine ? tick : undefined}
    >
      <div class="meta">
        {(props.group || !mine) && <span class={`sender${props.continued ? " visually-hidden" : ""}`}>{sender}</span>}
        <time dateTime={m.created_at} title={fullTime(m.created_at, {})}>
          {timeLabel(m.created_at, { now: new Date() })}
        </time>
        {m.status === "edited" && <span class="edited">(edited)</span>}
        {mine && !deleted && (
          <span
            class={`tick tick-${tick}`}
            role="img"
            aria-label={tickLabel(tick, readBy, props.others.length)}
            title={tickLabel(tick, readBy, props.others.length)}
          >
            {TICK_GLYPH[tick]}
          </span>
        )}
      </div>
      {editing.value ? (
        <EditForm
          initial={m.body}
          onCancel={() => (editing.value = false)}
          onSave={async (body) => {
            editing.value = false;
            if (body.trim() && body.trim() !== m.body) await view.edit(m.seq, body);
          }}
        />
      ) : deleted ? (
        <p class="body deleted-text">This message was deleted.</p>
      ) : (
        <p class="body">
          {bodySegments(m, props.members, me).map((s, i) =>
            "mention" in s ? (
              <mark key={i} class={`mention mention-${s.mention}`}>
                {s.text}
              </mark>
            ) : (
              s.text
            ),
          )}
        </p>
      )}
      {change && <ChangeLine view={view} change={change} />}
      {mine && !deleted && !editing.value && !change && (
        <div class="actions">
          {confirming.value ? (
            <>
              <span>Delete this message?</span>
              <button
                type="button"
                class="danger"
                onClick={() => {
                  confirming.value = false;
                  void view.remove(m.seq);
                }}
              >
                Delete
              </button>
              <button type="button" onClick={() => (confirming.value = false)}>
                Keep
              </button>
            </>
          ) : (
            <>
              <button type="button" class="link" onClick={() => (editing.value = true)} aria-label="Edit message">
                Edit
              </button>
              <button type="button" class="link" onClick={() => (confirming.value = true)} aria-label="Delete message">
                Delete
              </button>
            </>
          )}
        </div>
      )}
    </li>
  );
}

/** An edit or delete of this message on its way, or refused (with retry and discard). */
function ChangeLine({ view, change }: { view: RoomView; change: QueuedChange }) {
  const what = change.kind === "edit" ? "edit" : "delete";
  if (change.state === "pending")
    return <p class="change-line">{change.kind === "edit" ? "Saving the edit…" : "Deleting…"}</p>;
  return (
    <div class="change-line failed-actions" role="alert">
      <span>
        The {what} did not go through{change.error ? `: ${change.error}` : ""}
      </span>
      <button type="button" onClick={() => view.retry(change.op_id)}>
        Retry
      </button>
      <button type="button" onClick={() => void view.cancel(change.op_id)}>
        Discard
      </button>
    </div>
  );
}

function EditForm(props: { initial: string; onSave(body: string): void; onCancel(): void }) {
  const text = useSignal(props.initial);
  return (
    <form
      class="edit"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSave(text.value);
      }}
    >
      <label class="visually-hidden" for="edit-input">
        Edit message
      </label>
      <textarea
        id="edit-input"
        value={text.value}
        ref={(el) => el?.focus()}
        onInput={(e) => (text.value = (e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") props.onCancel();
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            props.onSave(text.value);
          }
        }}
      />
      <button type="submit" class="primary" disabled={!text.value.trim()}>
        Save
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </form>
  );
}

export function PendingItem({ view, send }: { view: RoomView; send: QueuedSend }) {
  const failed = send.state === "failed";
  return (
    <li
      class={`message mine pending${failed ? " failed" : ""}`}
      data-pending={send.client_message_id}
      data-state={send.state}
    >
      <div class="meta">
        <time dateTime={send.queued_at}>{timeLabel(send.queued_at, { now: new Date() })}</time>
      </div>
      <p class="body">{send.body}</p>
      {failed ? (
        <div class="actions failed-actions" role="alert">
          <span>Not sent{send.error ? `: ${send.error}` : ""}</span>
          <button type="button" onClick={() => view.retry(send.client_message_id)}>
            Retry
          </button>
          <button type="button" onClick={() => view.cancel(send.client_message_id)}>
            Cancel
          </button>
        </div>
      ) : (
        <p class="pending-text" role="img" aria-label="Sending">
          Sending…
        </p>
      )}
    </li>
  );
}
