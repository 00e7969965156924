// The open chat: who it is with, the messages (older ones load as you scroll up), who is typing,
// and the composer. Messages on screen count as read while the page is visible.
import { useSignal } from "@preact/signals";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { MAX_BODY_CODE_POINTS } from "../../../protocol/frames.js";
import type { Message } from "../../../protocol/index.js";
import type { ChatApp } from "../chat/app-state.js";
import type { RoomView } from "../chat/room-view.js";
import { newestSeq, oldestSeq } from "../lib/timeline.js";
import { Avatar, presenceText } from "./avatar.js";
import { GroupDialog } from "./group-dialog.js";
import { MessageItem, PendingItem } from "./message-item.js";

export function ChatView({ app, view }: { app: ChatApp; view: RoomView }) {
  const room = view.room.value;
  const entry = app.rooms.value.find((e) => e.room.id === view.roomId);
  const title = entry ? app.roomTitle(entry) : room?.type === "group" ? (room.name ?? "Group") : "Chat";
  const adding = useSignal(false);
  const peer = room?.peer_id ? app.presence.value.get(room.peer_id) : undefined;
  const subtitle =
    room?.type === "group" ? `${view.members.value.length || room.member_count} members` : presenceText(peer) || "";

  return (
    <section class="chat" aria-labelledby="chat-title">
      <header class="chat-header">
        <button type="button" class="back" onClick={() => app.closeRoom()} aria-label="Back to chats">
          ←
        </button>
        <Avatar name={title} presence={room?.type === "direct" ? (peer?.status ?? "offline") : undefined} />
        <div class="chat-heading">
          <h2 id="chat-title">{title}</h2>
          {subtitle && <p class="subtitle">{subtitle}</p>}
        </div>
        {room?.type === "group" && (
          <button type="button" onClick={() => (adding.value = true)}>
            Add people
          </button>
        )}
      </header>
      {view.stopped.value && (
        <div class="notice" role="alert">
          <span>This chat stopped: {view.stopped.value}</span>
          <button type="button" class="link" onClick={() => void app.reopenRoom()}>
            Try again
          </button>
        </div>
      )}
      {view.error.value && (
        <div class="notice" role="alert">
          <span>{view.error.value}</span>
          <button type="button" class="link" onClick={() => (view.error.value = null)}>
            Dismiss
          </button>
        </div>
      )}
      <Messages app={app} view={view} />
      <TypingLine app={app} view={view} />
      <Composer view={view} />
      {adding.value && room && (
        <GroupDialog
          app={app}
          title={`Add people to ${title}`}
          submitLabel="Add"
          exclude={new Set(view.members.value.map((m) => m.user_id))}
          onClose={() => (adding.value = false)}
          onSubmit={({ ids }) => app.addMembers(room.id, ids)}
        />
      )}
    </section>
  );
}

function Messages({ app, view }: { app: ChatApp; view: RoomView }) {
  const t = view.timeline.value;
  const me = app.me.value!.id;
  const members = view.members.value;
  const others = members.map((m) => m.user_id).filter((id) => id !== me);
  const offsets = view.offsets.value;
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const anchor = useRef<{ first: number | undefined; height: number } | null>(null);
  const group = view.room.value?.type === "group";
  void app.people.value;

  // stay at the bottom while the reader is there; keep the reader's place when older messages come in above
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const a = anchor.current;
    if (a && a.first !== oldestSeq(t)) {
      el.scrollTop += el.scrollHeight - a.height;
      anchor.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [t]);

  // read what is on screen while the page is visible
  const newest = newestSeq(t);
  useEffect(() => {
    const read = () => {
      if (document.visibilityState === "visible") view.markReadUpToNewest();
    };
    read();
    document.addEventListener("visibilitychange", read);
    addEventListener("focus", read);
    return () => {
      document.removeEventListener("visibilitychange", read);
      removeEventListener("focus", read);
    };
  }, [view, newest]);

  const older = () => {
    const el = box.current;
    if (el) anchor.current = { first: oldestSeq(t), height: el.scrollHeight };
    void view.loadOlder();
  };

  const onScroll = () => {
    const el = box.current!;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80 && t.hasOlder && !view.loadingOlder.value && view.ready.value) older();
  };

  return (
    <div class="messages" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Messages">
      {view.ready.value && t.hasOlder && (
        <div class="older">
          <button type="button" class="link" onClick={older} disabled={view.loadingOlder.value}>
            {view.loadingOlder.value ? "Loading older messages…" : "Load older messages"}
          </button>
        </div>
      )}
      {view.ready.value && !t.hasOlder && t.messages.length > 0 && (
        <p class="hint start">This is the start of the chat.</p>
      )}
      {!view.ready.value && !view.error.value && <p class="hint">Loading messages…</p>}
      {view.ready.value && t.messages.length === 0 && t.pending.length === 0 && (
        <p class="hint start">No messages yet. Say hello!</p>
      )}
      <ol class="message-list">
        {t.messages.map((m, i) => (
          <MessageItem
            key={m.seq}
            app={app}
            view={view}
            message={m}
            members={members}
            others={others}
            offsets={offsets}
            group={group}
            continued={continues(t.messages[i - 1], m)}
          />
        ))}
        {t.pending.map((p) => (
          <PendingItem key={p.client_message_id} view={view} send={p} />
        ))}
      </ol>
    </div>
  );
}

/** A message right after another of the same sender (within five minutes) does not repeat the name. */
function continues(prev: Message | undefined, m: Message): boolean {
  return (
    !!prev &&
    prev.sender_id === m.sender_id &&
    new Date(m.created_at).getTime() - new Date(prev.created_at).getTime() < 5 * 60_000
  );
}

function TypingLine({ app, view }: { app: ChatApp; view: RoomView }) {
  void view.typing.value;
  const names = view.typingNow().map((id) => app.nameOf(id));
  const text =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : `${names.length} people are typing…`;
  return (
    <p class="typing" aria-live="polite">
      {text}
    </p>
  );
}

/** The composer grows with its text (up to the CSS max-height), and shrinks back. */
function grow(el: HTMLTextAreaElement) {
  el.style.height = "auto";
  el.style.height = `${el.scrollHeight + 2}px`;
}

function Composer({ view }: { view: RoomView }) {
  const text = useSignal("");
  const ref = useRef<HTMLTextAreaElement>(null);
  const tooLong = [...text.value].length > MAX_BODY_CODE_POINTS;

  useEffect(() => ref.current?.focus(), [view]);

  const send = () => {
    if (tooLong) return;
    if (view.send(text.value)) {
      text.value = "";
      // after the cleared value renders
      requestAnimationFrame(() => ref.current && grow(ref.current));
    }
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label for="composer-input" class="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={ref}
        rows={1}
        placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
        value={text.value}
        aria-invalid={tooLong}
        onInput={(e) => {
          const el = e.currentTarget as HTMLTextAreaElement;
          text.value = el.value;
          grow(el);
          if (text.value.trim()) view.typed();
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      <button type="submit" class="primary" disabled={!text.value.trim() || tooLong}>
        Send
      </button>
      {tooLong && (
        <p class="error" role="alert">
          A message holds at most {MAX_BODY_CODE_POINTS} characters.
        </p>
      )}
    </form>
  );
}
