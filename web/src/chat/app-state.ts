// The signed-in app: who I am, the connection, my rooms, friends, the names and presence of the
// people I see, and the room on screen. Views read these signals and call these methods; the
// backend (the SDK) is the only source of data.
import { batch, computed, signal } from "@preact/signals";
import type { Friend, Message, PublicUser, RoomListEntry, RoomMemberDetail } from "../../../protocol/index.js";
import { applyActivity, markRead, noteMessage, sortByActivity, totalUnread, upsertRoom } from "../lib/room-list.js";
import { describeError, type Backend, type ConnectionState, type Presence } from "./backend.js";
import { RoomView } from "./room-view.js";

export type Phase = "starting" | "signed-out" | "signed-in";

/** watch_presence at most this often after a few (the session object's limit) */
const WATCH_EVERY_MS = 5000;

export class ChatApp {
  readonly phase = signal<Phase>("starting");
  readonly me = signal<PublicUser | null>(null);
  readonly connection = signal<ConnectionState>("connecting");
  readonly rooms = signal<RoomListEntry[]>([]);
  readonly friends = signal<Friend[]>([]);
  readonly people = signal<ReadonlyMap<string, PublicUser>>(new Map());
  readonly presence = signal<ReadonlyMap<string, Presence>>(new Map());
  readonly view = signal<RoomView | null>(null);
  /** a problem to show the user (dismissable) */
  readonly notice = signal<string | null>(null);
  readonly unread = computed(() => totalUnread(this.rooms.value));

  private watched = new Set<string>();
  private askedNames = new Set<string>();
  private lastWatchAt = 0;
  private watchTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly backend: Backend) {
    backend.on("state", (s) => (this.connection.value = s));
    backend.on("activity", (a) => {
      const known = this.rooms.value.some((e) => e.room.id === a.room_id);
      if (!known) return void this.loadRooms();
      // the open room counts nothing unread: its messages are on screen and read as they come
      const open = this.view.value?.roomId === a.room_id;
      this.rooms.value = applyActivity(this.rooms.value, { ...a, unread_count: open ? 0 : a.unread_count });
    });
    backend.on(
      "read_sync",
      ({ room_id, read_seq }) => (this.rooms.value = markRead(this.rooms.value, room_id, read_seq)),
    );
    backend.on("presence", (p) => {
      const next = new Map(this.presence.value);
      next.set(p.user_id, p);
      this.presence.value = next;
    });
    backend.on("room", (e) => {
      void this.loadRooms();
      this.rewatch();
      if (e.event === "member_added" || e.event === "member_removed" || e.event === "updated") {
        if (this.view.value?.roomId === e.room_id) void this.view.value.refreshMembers();
      }
    });
    backend.on("signed_out", ({ reason }) => {
      this.reset();
      this.notice.value = `You were signed out: ${reason}`;
    });
  }

  async start(): Promise<void> {
    try {
      const user = await this.backend.restore();
      if (user) return await this.signedIn(user);
    } catch (err) {
      this.notice.value = describeError(err);
    }
    this.phase.value = "signed-out";
  }

  async register(b: { handle: string; password: string; display_name: string }): Promise<void> {
    await this.signedIn(await this.backend.register(b));
  }

  async login(b: { handle: string; password: string }): Promise<void> {
    await this.signedIn(await this.backend.login(b));
  }

  async logout(): Promise<void> {
    try {
      await this.backend.logout();
    } finally {
      this.reset();
      history.replaceState(null, "", "/");
    }
  }

  private reset() {
    batch(() => {
      this.view.value?.close();
      this.view.value = null;
      this.me.value = null;
      this.rooms.value = [];
      this.friends.value = [];
      this.presence.value = new Map();
      this.phase.value = "signed-out";
    });
    this.watched.clear();
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = null;
  }

  private async signedIn(user: PublicUser) {
    batch(() => {
      this.me.value = user;
      this.learn([user]);
      this.phase.value = "signed-in";
    });
    await Promise.all([this.loadRooms(), this.loadFriends()]);
    const routed = roomFromPath(location.pathname);
    if (routed) await this.openRoom(routed, { push: false });
  }

  // ---- names and presence

  learn(users: ReadonlyArray<PublicUser>) {
    const next = new Map(this.people.value);
    let changed = false;
    for (const u of users) {
      const held = next.get(u.id);
      if (held && held.display_name === u.display_name && held.handle === u.handle) continue;
      next.set(u.id, u);
      changed = true;
    }
    if (changed) this.people.value = next;
  }

  learnMembers(members: RoomMemberDetail[]) {
    this.learn(members.map((m) => ({ id: m.user_id, handle: m.handle, display_name: m.display_name })));
    this.watch(members.map((m) => m.user_id));
  }

  nameOf(id: string): string {
    if (id === this.me.value?.id) return this.me.value.display_name;
    return this.people.value.get(id)?.display_name ?? "Someone";
  }

  /** Presence of these people from now on (friends, direct peers, members on screen). */
  private watch(ids: string[]) {
    const me = this.me.value?.id;
    const fresh = ids.filter((id) => id !== me && !this.watched.has(id));
    if (fresh.length === 0) return;
    for (const id of fresh) this.watched.add(id);
    this.sendWatch();
  }

  /**
   * Asks for the watched people's presence again: who may see whom changes (someone added me
   * back as a friend, we share a room now), and the server decides that when it is asked. It
   * allows a few asks and then one per 5 s: later asks wait for their turn, and one ask answers
   * all that came meanwhile.
   */
  rewatch() {
    if (this.watched.size) this.sendWatch();
  }

  private sendWatch() {
    const wait = this.lastWatchAt + WATCH_EVERY_MS - Date.now();
    if (wait > 0) {
      this.watchTimer ??= setTimeout(() => {
        this.watchTimer = null;
        this.sendWatch();
      }, wait);
      return;
    }
    this.lastWatchAt = Date.now();
    if (this.phase.value === "signed-in") this.backend.watchPresence([...this.watched]);
  }

  // ---- rooms

  async loadRooms(): Promise<void> {
    try {
      const entries = await this.backend.rooms();
      const open = this.view.value?.roomId;
      this.rooms.value = sortByActivity(entries.map((e) => (e.room.id === open ? { ...e, unread_count: 0 } : e)));
      const peers = entries.flatMap((e) => (e.room.peer_id ? [e.room.peer_id] : []));
      this.watch(peers);
      // a direct room with someone who is no friend of mine: its detail names them
      for (const e of entries) {
        const peer = e.room.peer_id;
        if (peer && !this.people.value.has(peer) && !this.askedNames.has(e.room.id)) {
          this.askedNames.add(e.room.id);
          this.backend
            .room(e.room.id)
            .then((d) => this.learnMembers(d.members))
            .catch(() => this.askedNames.delete(e.room.id));
        }
      }
    } catch (err) {
      this.notice.value = `Your rooms did not load: ${describeError(err)}`;
    }
  }

  roomTitle(e: RoomListEntry): string {
    if (e.room.type === "group") return e.room.name ?? "Group";
    return e.room.peer_id ? this.nameOf(e.room.peer_id) : "Direct chat";
  }

  async openRoom(roomId: string, o: { push?: boolean } = {}): Promise<void> {
    if (this.view.value?.roomId === roomId) return;
    this.view.value?.close();
    const view = new RoomView(roomId, this.backend, {
      meId: this.me.value!.id,
      noteMessage: (m: Message) => (this.rooms.value = noteMessage(this.rooms.value, m)),
      noteRead: (id, seq) => (this.rooms.value = markRead(this.rooms.value, id, seq)),
      learnNames: (members) => this.learnMembers(members),
    });
    this.view.value = view;
    const peer = this.rooms.value.find((e) => e.room.id === roomId)?.room.peer_id;
    if (peer && this.presence.value.get(peer)?.status !== "online") this.rewatch();
    if (o.push !== false && location.pathname !== `/rooms/${roomId}`) history.pushState(null, "", `/rooms/${roomId}`);
    await view.open();
  }

  /** Opens the room on screen afresh (a new stream, after its last one stopped). */
  async reopenRoom(): Promise<void> {
    const id = this.view.value?.roomId;
    if (!id) return;
    this.view.value?.close();
    this.view.value = null;
    await this.loadRooms();
    await this.openRoom(id, { push: false });
  }

  closeRoom() {
    this.view.value?.close();
    this.view.value = null;
    if (location.pathname !== "/") history.pushState(null, "", "/");
  }

  async openDirect(peerId: string): Promise<void> {
    try {
      const room = await this.backend.openDirect(peerId);
      if (!this.rooms.value.some((e) => e.room.id === room.id)) {
        this.rooms.value = upsertRoom(this.rooms.value, {
          room,
          last_message: null,
          unread_count: 0,
          read_seq: 0,
          muted: false,
          hidden: false,
        });
      }
      await this.openRoom(room.id);
    } catch (err) {
      this.notice.value = `The chat did not open: ${describeError(err)}`;
    }
  }

  async createGroup(name: string, memberIds: string[]): Promise<void> {
    const room = await this.backend.createGroup(name, memberIds);
    await this.loadRooms();
    await this.openRoom(room.id);
  }

  async addMembers(roomId: string, userIds: string[]): Promise<void> {
    await this.backend.addMembers(roomId, userIds);
    if (this.view.value?.roomId === roomId) await this.view.value.refreshMembers();
    await this.loadRooms();
  }

  // ---- friends

  async loadFriends(): Promise<void> {
    try {
      const friends = await this.backend.friends();
      batch(() => {
        this.friends.value = friends;
        this.learn(friends.map((f) => f.user));
      });
      this.watch(friends.filter((f) => !f.blocked).map((f) => f.user.id));
    } catch (err) {
      this.notice.value = `Your friends did not load: ${describeError(err)}`;
    }
  }

  isFriend(id: string): boolean {
    return this.friends.value.some((f) => f.user.id === id);
  }

  async addFriend(user: PublicUser): Promise<void> {
    try {
      await this.backend.addFriend(user.id);
      this.learn([user]);
      await this.loadFriends();
      this.rewatch();
    } catch (err) {
      this.notice.value = `${user.display_name} was not added: ${describeError(err)}`;
    }
  }

  async setFavorite(userId: string, favorite: boolean): Promise<void> {
    try {
      await this.backend.setFavorite(userId, favorite);
      await this.loadFriends();
    } catch (err) {
      this.notice.value = describeError(err);
    }
  }

  async searchUsers(q: string): Promise<PublicUser[]> {
    const users = await this.backend.searchUsers(q);
    this.learn(users);
    return users.filter((u) => u.id !== this.me.value?.id);
  }
}

/** "/rooms/<id>" names a room; anything else is the room list. */
export function roomFromPath(pathname: string): string | null {
  const m = /^\/rooms\/([0-9a-fA-F-]{36})\/?$/.exec(pathname);
  return m ? m[1]!.toLowerCase() : null;
}
