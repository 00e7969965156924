// The app's backend is the SDK (client/): this file only says which SDK call answers which of
// the app's questions, and turns the SDK's outbox items into the pending sends the chat shows.
import type { ChatClient, OutboxItem, RoomClient } from "../../../client/index.js";
import type { DeleteFrame, EditFrame, RoomListEntry, SendFrame } from "../../../protocol/index.js";
import type { Backend, Channel, ChannelEvents, Queued, Unsubscribe } from "./backend.js";

/** room list pages read at start (200 rooms each): more than a person scrolls through */
const MAX_ROOM_PAGES = 10;

export function sdkBackend(chat: ChatClient): Backend {
  let unwatch: (() => void) | null = null;
  const channels = new Map<string, RoomChannel>();

  return {
    restore: () => chat.restore(),
    register: (b) => chat.register(b),
    login: (b) => chat.login(b),
    async logout() {
      unwatch = null;
      await chat.logout();
    },
    on(type, fn) {
      switch (type) {
        case "state":
          return chat.on("state", ({ state }) => (fn as (s: typeof state) => void)(state));
        case "activity":
        case "read_sync":
        case "presence":
        case "room":
        case "signed_out":
          return chat.on(type, fn as never);
      }
      return () => {};
    },

    async rooms() {
      const out: RoomListEntry[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < MAX_ROOM_PAGES; i++) {
        const page = await chat.rooms({ limit: 200, ...(cursor ? { cursor } : {}) });
        out.push(...page.rooms);
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      return out;
    },
    room: (id) => chat.getRoom(id),
    openDirect: (peerId) => chat.createDirect(peerId),
    createGroup: (name, memberIds) => chat.createGroup({ name, member_ids: memberIds }),
    async addMembers(roomId, userIds) {
      return (await chat.addMembers(roomId, userIds)).added;
    },
    async open(roomId) {
      const room = await chat.openRoom(roomId);
      let channel = channels.get(room.id);
      if (!channel || channel.room !== room) {
        channel = new RoomChannel(room, () => channels.delete(room.id));
        channels.set(room.id, channel);
      }
      channel.attach();
      return channel;
    },

    friends: () => chat.friends.list(),
    addFriend: (userId) => chat.friends.add(userId),
    setFavorite: (userId, favorite) => chat.friends.update(userId, { favorite }),
    searchUsers: (q) => chat.users.search(q),
    watchPresence(userIds) {
      // one watch for the whole set: the session socket's watch_presence names everyone at once
      const previous = unwatch;
      unwatch = chat.presence.watch(userIds);
      previous?.();
    },
  };
}

/** The SDK's outbox items as the chat shows them: sends as pending messages, edits and deletes on their message. */
function queued(items: readonly OutboxItem[]): Queued {
  const out: Queued = { sends: [], changes: [] };
  for (const item of items) {
    const error = item.error ? { error: item.error.message || item.error.code } : {};
    if (item.kind === "send") {
      const frame = item.frame as SendFrame;
      out.sends.push({
        client_message_id: item.id,
        body: frame.body,
        mentions: frame.mentions ?? [],
        queued_at: item.queued_at,
        state: item.status,
        ...error,
      });
    } else {
      const frame = item.frame as EditFrame | DeleteFrame;
      out.changes.push({ op_id: item.id, seq: frame.seq, kind: item.kind, state: item.status, ...error });
    }
  }
  return out;
}

/**
 * A room's stream for the view on screen. The view closes it when it goes; the stream stays open
 * until the room's outbox is empty, so what was sent while offline still goes out after the
 * person moved on to another room.
 */
class RoomChannel implements Channel {
  private offs: Unsubscribe[] = [];
  private attached = false;

  constructor(
    readonly room: RoomClient,
    private readonly forget: () => void,
  ) {}

  get roomId() {
    return this.room.id;
  }

  attach() {
    this.attached = true;
  }

  on<K extends keyof ChannelEvents>(type: K, fn: (event: ChannelEvents[K]) => void): Unsubscribe {
    const emit = fn as (e: unknown) => void;
    let off: Unsubscribe;
    switch (type) {
      case "message":
        off = this.room.on("message", emit);
        break;
      case "update":
        off = this.room.on("update", ({ message }) => emit(message));
        break;
      case "receipt":
        off = this.room.on("receipt", emit);
        break;
      case "typing":
        off = this.room.on("typing", emit);
        break;
      case "outbox":
        off = this.room.on("outbox", ({ items }) => emit(queued(items)));
        break;
      case "closed":
        off = this.room.on("closed", emit);
        break;
      default:
        off = () => {};
    }
    this.offs.push(off);
    return off;
  }

  held() {
    return this.room.messages();
  }

  queued() {
    return queued(this.room.pending());
  }

  async send(input: { body: string; mentions: string[]; mention_all?: boolean }) {
    const ack = await this.room.send(input);
    return { seq: ack.seq };
  }

  async retry(id: string) {
    await this.room.retry(id);
  }

  cancel(id: string) {
    return this.room.cancel(id);
  }

  async edit(seq: number, body: string) {
    await this.room.edit(seq, body);
  }

  async remove(seq: number) {
    await this.room.remove(seq);
  }

  markRead(seq: number) {
    this.room.markRead(seq);
  }

  typing() {
    this.room.typing();
  }

  history(o: { beforeSeq?: number; limit: number }) {
    return this.room.history(o);
  }

  close() {
    this.attached = false;
    for (const off of this.offs.splice(0)) off();
    const closeWhenSent = () => {
      if (this.attached || this.room.pending().some((i) => i.status === "pending")) return false;
      this.room.close();
      this.forget();
      return true;
    };
    if (closeWhenSent()) return;
    const off = this.room.on("outbox", () => {
      if (closeWhenSent() || this.attached) off();
    });
  }
}
