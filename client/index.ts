// The edge-chat client SDK: createChatClient() and its types. Runs in browsers, Node 20 (pass
// `WebSocket: ws`) and workerd; it needs only fetch and a WebSocket constructor, and imports
// nothing of Node (a JSON-file storage for Node is the separate entry node-storage.ts).
//
//   const chat = createChatClient({ baseUrl, deviceId });
//   await chat.login({ handle, password });
//   const room = await chat.openRoom(roomId);
//   room.on("message", (m) => …);
//   const ack = await room.send({ body: "hi" });
//
// client/README.md describes the whole surface and what the SDK does for you.
import {
  AddMembersBody,
  ClientDeviceId,
  CreateRoomBody,
  DeviceBody,
  FriendPatchBody,
  Id,
  LoginBody,
  LogoutBody,
  MePatchBody,
  MemberPatchBody,
  MyRoomSettingsBody,
  RegisterBody,
  RoomListQuery,
  RoomPatchBody,
  UserSearchQuery,
  type AddMembersResponse,
  type AuthResponse,
  type DeviceListResponse,
  type DeviceResponse,
  type FriendListResponse,
  type FriendResponse,
  type MeResponse,
  type MemberResponse,
  type MyRoomSettings,
  type PublicUser,
  type Room,
  type RoomDetailResponse,
  type RoomListResponse,
  type RoomResponse,
  type UserSearchResponse,
  type VapidPublicKeyResponse,
} from "../protocol/index.js";
import { Auth, type SignedOutReason } from "./auth.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { Connection, type ConnectionHooks, type WebSocketConstructor } from "./connection.js";
import { Emitter } from "./emitter.js";
import { environmentOnline, watchEnvironment } from "./environment.js";
import { ChatError, describeIssues } from "./errors.js";
import { Http, type Fetch } from "./http.js";
import { indexedDbStorage } from "./indexeddb-storage.js";
import { Outbox } from "./outbox.js";
import { RoomClient } from "./room.js";
import {
  SessionSocket,
  type ActivityFrame,
  type ErrorFrame,
  type Presence,
  type PresenceFrame,
  type ReadSyncFrame,
  type RoomEventFrame,
} from "./session.js";
import { memoryStorage, storageKeys, type ChatStorage } from "./storage.js";

export { ChatError } from "./errors.js";
export { memoryStorage, type ChatStorage } from "./storage.js";
export { indexedDbStorage, type IndexedDbStorageOptions } from "./indexeddb-storage.js";
export type { RoomClient, RoomEvents, RoomState, SendInput, FailedEvent, Receipt, RoomCloseReason } from "./room.js";
export type { OutboxItem, OutboxKind, SendAck, OpAck } from "./outbox.js";
export type { WebSocketConstructor, WebSocketLike } from "./connection.js";
export type { Presence } from "./session.js";
export type { Fetch } from "./http.js";
export type { SignedOutReason } from "./auth.js";
export type { Message, Attachment, PublicUser, Room, RoomListEntry, Friend, HistoryPage } from "../protocol/index.js";

export type ClientState = "connecting" | "open" | "reconnecting" | "offline" | "closed";

export interface ChatClientOptions {
  /** the edge, e.g. "https://chat.example" (the SDK adds /v1/…) */
  baseUrl: string;
  /** a stable id of this installation (letters, digits, - _ : .): tickets, login and logout name the device by it */
  deviceId: string;
  /** where the session and the outbox live; default: IndexedDB where there is one, else memory */
  storage?: ChatStorage;
  /** a WebSocket constructor where there is no global one (Node 20: the `ws` package) */
  WebSocket?: WebSocketConstructor;
  fetch?: Fetch;
  /** storage key prefix, for several clients over one storage */
  namespace?: string;
  /** default 25 s: a `{"type":"ping"}` this often */
  heartbeatMs?: number;
  /** default 10 s: a socket whose ping is not answered this long is dead */
  pongTimeoutMs?: number;
  /** reconnect delays (default full jitter from 0.5 s up to 20 s) */
  backoff?: BackoffOptions;
  /** default true; false refreshes the access token only when the server refuses it or closes 4001 */
  refreshBeforeExpiry?: boolean;
  /** default 10 s: an outbox item with no ack this long on an open socket is sent again */
  ackTimeoutMs?: number;
  /** default 5000: messages each open room keeps in memory (room.messages()) */
  maxHeldMessages?: number;
  /**
   * default true: streams open with batch=1, so a replay or a busy room's commit comes as one
   * message instead of one per frame; false: one frame per message (protocol v1's default)
   */
  batchFrames?: boolean;
}

export interface ChatEvents {
  state: { state: ClientState };
  /** a room without an open stream here moved on (session socket) */
  activity: ActivityFrame;
  /** another device of yours read up to read_seq */
  read_sync: ReadSyncFrame;
  presence: PresenceFrame;
  /** rooms you are in changed (created, members, settings): GET /v1/rooms has the rest */
  room: RoomEventFrame;
  error: ErrorFrame;
  /** the session ended: logged out here or elsewhere, suspended, or the refresh token refused */
  signed_out: { reason: SignedOutReason };
}

export class ChatClient {
  state: ClientState = "closed";
  private readonly events = new Emitter<ChatEvents>();
  private readonly storage: ChatStorage;
  private readonly ns: string;
  private readonly http: Http;
  private readonly auth: Auth;
  private readonly WebSocketCtor: WebSocketConstructor | undefined;
  private readonly openRooms = new Map<string, RoomClient>();
  private outbox: Outbox | null = null;
  private session: SessionSocket | null = null;
  private stopEnvironment: (() => void) | null = null;
  private everOpen = false;
  private signingOut = false;

  readonly users = {
    /** users whose handle or display name starts with `q` */
    search: async (q: string, limit?: number): Promise<PublicUser[]> => {
      const query = this.parse(UserSearchQuery, { q, ...(limit !== undefined ? { limit } : {}) });
      return (await this.http.request<UserSearchResponse>("GET", "/v1/users", { query, idempotent: true })).users;
    },
  };

  readonly friends = {
    /** favorites first, then by name */
    list: async () => (await this.http.request<FriendListResponse>("GET", "/v1/friends", { idempotent: true })).friends,
    add: async (userId: string) =>
      (await this.http.request<FriendResponse>("PUT", `/v1/friends/${this.id(userId)}`, { idempotent: true })).friend,
    update: async (userId: string, patch: { favorite?: boolean; blocked?: boolean }) =>
      (
        await this.http.request<FriendResponse>("PATCH", `/v1/friends/${this.id(userId)}`, {
          body: this.parse(FriendPatchBody, patch),
        })
      ).friend,
    remove: (userId: string) => this.http.request<void>("DELETE", `/v1/friends/${this.id(userId)}`),
  };

  readonly presence = {
    /** Watches these users' presence (chat.on("presence")) until the returned function is called. */
    watch: (userIds: string[]): (() => void) => this.requireSession().watch(userIds),
    /** the last status heard of a watched user */
    get: (userId: string): Presence | undefined => this.session?.presenceOf(userId),
  };

  readonly devices = {
    list: async () => (await this.http.request<DeviceListResponse>("GET", "/v1/devices", { idempotent: true })).devices,
    /** a push token, or a browser's PushSubscription.toJSON() */
    register: async (body: unknown) =>
      (await this.http.request<DeviceResponse>("POST", "/v1/devices", { body: this.parse(DeviceBody, body) })).device,
    remove: (id: string) => this.http.request<void>("DELETE", `/v1/devices/${encodeURIComponent(id)}`),
    vapidPublicKey: async () =>
      (await this.http.request<VapidPublicKeyResponse>("GET", "/v1/push/vapid-public-key", { auth: false })).key,
  };

  constructor(private readonly o: ChatClientOptions) {
    const device = ClientDeviceId.safeParse(o.deviceId);
    if (!device.success) throw new ChatError("invalid", `deviceId: ${describeIssues(device.error.issues)}`);
    this.WebSocketCtor = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const fetchImpl = o.fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
    this.storage = o.storage ?? defaultStorage();
    this.ns = o.namespace ?? "edge-chat:";
    this.http = new Http(o.baseUrl.replace(/\/+$/, ""), fetchImpl);
    this.auth = new Auth(this.http, this.storage, storageKeys.session(this.ns), {
      refreshBeforeExpiry: o.refreshBeforeExpiry ?? true,
    });
    this.http.useTokens(this.auth);
    this.auth.events.on("ended", ({ reason }) => this.ended(reason));
  }

  /** the signed-in user (null before sign-in) */
  get me(): PublicUser | null {
    return this.auth.user;
  }

  on<K extends keyof ChatEvents>(type: K, fn: (event: ChatEvents[K]) => void): () => void {
    return this.events.on(type, fn);
  }

  off<K extends keyof ChatEvents>(type: K, fn: (event: ChatEvents[K]) => void): void {
    this.events.off(type, fn);
  }

  // ------------------------------------------------------------------ signing in and out

  async register(body: { handle: string; password: string; display_name: string }): Promise<PublicUser> {
    const sentAt = Date.now();
    const res = await this.http.request<AuthResponse>("POST", "/v1/auth/register", {
      auth: false,
      body: this.parse(RegisterBody, body),
    });
    return this.signedIn(res, sentAt);
  }

  async login(body: { handle: string; password: string }): Promise<PublicUser> {
    const sentAt = Date.now();
    const res = await this.http.request<AuthResponse>("POST", "/v1/auth/login", {
      auth: false,
      body: this.parse(LoginBody, { ...body, device_id: this.o.deviceId }),
    });
    return this.signedIn(res, sentAt);
  }

  /** Signs in with the session a previous client left in storage (a page reload); null when there is none. */
  async restore(): Promise<PublicUser | null> {
    const user = await this.auth.load();
    if (user) await this.start(user);
    return user;
  }

  /** Logs this device out: its sockets close, its push tokens retire, its session and outbox are forgotten. */
  async logout(): Promise<void> {
    const refresh = this.auth.refreshToken();
    // our own sockets first: the server's 4004 for them is no news to us
    this.stopAll("signed_out");
    if (refresh) {
      await this.http
        .request<void>("POST", "/v1/auth/logout", {
          body: this.parse(LogoutBody, { refresh_token: refresh, device_id: this.o.deviceId }),
        })
        .catch(() => {});
    }
    await this.outbox?.clear();
    await this.auth.end("logged_out");
  }

  private async signedIn(res: AuthResponse, sentAt: number): Promise<PublicUser> {
    if (this.session) this.stopAll("closed");
    const user = await this.auth.adopt(res, sentAt);
    await this.start(user);
    return user;
  }

  private async start(user: PublicUser): Promise<void> {
    const W = this.WebSocketCtor;
    if (!W) throw new ChatError("invalid", "there is no WebSocket here: pass one (Node 20: the ws package)");
    this.everOpen = false;
    this.outbox = new Outbox(this.storage, storageKeys.outboxPrefix(this.ns, user.id));
    await this.outbox.load();
    this.session = new SessionSocket({
      http: this.http,
      auth: this.auth,
      deviceId: this.o.deviceId,
      wsUrl: (p) => this.wsUrl(p),
      connection: (hooks) => this.connection(hooks),
      signOut: (reason) => this.signOut(reason),
      frame: (f) => this.events.emit(f.type, f as never),
      state: () => this.updateState(),
    });
    this.session.start();
    this.updateState();
    this.stopEnvironment ??= watchEnvironment({
      online: () => this.wakeAll(),
      offline: () => this.updateState(),
      visible: () => this.wakeAll(),
    });
    // a previous client's unsent items: their rooms open and send them (reported through room.on("sent" | "failed"))
    for (const roomId of this.outbox.roomsPending()) this.room(roomId);
  }

  // ------------------------------------------------------------------ rooms

  /**
   * Opens a room's stream (or returns the one open): resolves once it caught up, or after its first
   * failed attempt (it keeps trying); rejects when the room refuses us. What the opening replay
   * delivered is in room.messages() by then; room.on("message") hears what comes after.
   */
  async openRoom(roomId: string): Promise<RoomClient> {
    const room = this.room(roomId);
    await room.ready;
    return room;
  }

  /**
   * The room's handle at once, its stream opening (or the one open): listeners attached right away
   * hear everything from the first replayed message on; `await room.ready` for the first sync.
   */
  room(roomId: string): RoomClient {
    const id = this.id(roomId);
    if (!this.outbox || !this.auth.signedIn) throw new ChatError("signed_out", "sign in first");
    let room = this.openRooms.get(id);
    if (!room) {
      room = new RoomClient(id, {
        http: this.http,
        auth: this.auth,
        outbox: this.outbox,
        deviceId: this.o.deviceId,
        userId: () => this.auth.user?.id ?? null,
        wsUrl: (p) => this.wsUrl(p),
        connection: (hooks) => this.connection(hooks),
        signOut: (reason) => this.signOut(reason),
        forget: (r) => {
          if (this.openRooms.get(r.id) === r) this.openRooms.delete(r.id);
        },
        ackTimeoutMs: this.o.ackTimeoutMs ?? 10_000,
        maxHeldMessages: this.o.maxHeldMessages ?? 5000,
        batchFrames: this.o.batchFrames ?? true,
      });
      this.openRooms.set(id, room);
    }
    return room;
  }

  /** The room list (GET /v1/rooms): latest activity first, a page at a time. */
  rooms(q: { limit?: number; cursor?: string } = {}): Promise<RoomListResponse> {
    return this.http.request<RoomListResponse>("GET", "/v1/rooms", {
      query: this.parse(RoomListQuery, q),
      idempotent: true,
    });
  }

  /** A room and its members. */
  getRoom(roomId: string): Promise<RoomDetailResponse> {
    return this.http.request<RoomDetailResponse>("GET", `/v1/rooms/${this.id(roomId)}`, { idempotent: true });
  }

  /** The direct room with `peerId` (the same one every time). */
  async createDirect(peerId: string): Promise<Room> {
    const body = this.parse(CreateRoomBody, { type: "direct", peer_id: peerId });
    return (await this.http.request<RoomResponse>("POST", "/v1/rooms", { body })).room;
  }

  async openDirect(peerId: string): Promise<RoomClient> {
    return this.openRoom((await this.createDirect(peerId)).id);
  }

  async createGroup(body: { name: string; member_ids: string[] }): Promise<Room> {
    const parsed = this.parse(CreateRoomBody, { type: "group", ...body });
    return (await this.http.request<RoomResponse>("POST", "/v1/rooms", { body: parsed })).room;
  }

  async updateRoom(
    roomId: string,
    patch: { name?: string; notice?: string | null; description?: string | null; pinned_seq?: number | null },
  ): Promise<Room> {
    const body = this.parse(RoomPatchBody, patch);
    return (await this.http.request<RoomResponse>("PATCH", `/v1/rooms/${this.id(roomId)}`, { body })).room;
  }

  addMembers(roomId: string, userIds: string[]): Promise<AddMembersResponse> {
    const body = this.parse(AddMembersBody, { user_ids: userIds });
    return this.http.request<AddMembersResponse>("POST", `/v1/rooms/${this.id(roomId)}/members`, { body });
  }

  /** Removes a member (by role), or leaves when `userId` is yours. */
  removeMember(roomId: string, userId: string): Promise<void> {
    return this.http.request<void>("DELETE", `/v1/rooms/${this.id(roomId)}/members/${this.id(userId)}`);
  }

  leaveRoom(roomId: string): Promise<void> {
    const me = this.auth.user;
    if (!me) return Promise.reject(new ChatError("signed_out", "sign in first"));
    return this.removeMember(roomId, me.id);
  }

  async setRole(roomId: string, userId: string, role: "member" | "admin" | "owner") {
    const body = this.parse(MemberPatchBody, { role });
    const path = `/v1/rooms/${this.id(roomId)}/members/${this.id(userId)}`;
    return (await this.http.request<MemberResponse>("PATCH", path, { body })).member;
  }

  /** Your own muted / hidden of a room. */
  roomSettings(roomId: string, settings: { muted?: boolean; hidden?: boolean }): Promise<MyRoomSettings> {
    const body = this.parse(MyRoomSettingsBody, settings);
    return this.http.request<MyRoomSettings>("PATCH", `/v1/rooms/${this.id(roomId)}/me`, { body });
  }

  // ------------------------------------------------------------------ profile

  profile(): Promise<MeResponse> {
    return this.http.request<MeResponse>("GET", "/v1/me", { idempotent: true });
  }

  updateProfile(patch: { display_name?: string; group_adds?: "anyone" | "friends" }): Promise<MeResponse> {
    return this.http.request<MeResponse>("PATCH", "/v1/users/me", { body: this.parse(MePatchBody, patch) });
  }

  // ------------------------------------------------------------------ lifetime

  /** Closes every socket and timer; the session and the outbox stay in storage for the next client. */
  close(): void {
    this.stopAll("closed");
    this.auth.stop();
  }

  /** Counters for tests and diagnostics. */
  stats() {
    const rooms: Record<string, ReturnType<RoomClient["stats"]>> = {};
    for (const [id, r] of this.openRooms) rooms[id] = r.stats();
    return {
      state: this.state,
      session: this.session
        ? {
            attempts: this.session.conn.attempts,
            opens: this.session.conn.opens,
            lastClose: this.session.conn.lastClose,
          }
        : null,
      rooms,
      refreshes: this.auth.refreshes,
    };
  }

  private signOut(reason: SignedOutReason): void {
    // ends the session; `ended` stops everything
    void this.auth.end(reason);
  }

  private ended(reason: SignedOutReason): void {
    if (this.signingOut) return;
    this.signingOut = true;
    try {
      this.stopAll("signed_out");
      this.events.emit("signed_out", { reason });
    } finally {
      this.signingOut = false;
    }
  }

  private stopAll(reason: "closed" | "signed_out"): void {
    this.session?.stop();
    this.session = null;
    for (const room of [...this.openRooms.values()]) room.terminate(reason);
    this.openRooms.clear();
    this.stopEnvironment?.();
    this.stopEnvironment = null;
    this.updateState();
  }

  private wakeAll(): void {
    this.session?.conn.checkAlive();
    this.session?.conn.retryNow();
    for (const room of this.openRooms.values()) room.wake();
    this.updateState();
  }

  private updateState(): void {
    let next: ClientState;
    const conn = this.session?.conn;
    if (!conn || conn.state === "stopped" || conn.state === "idle") next = "closed";
    else if (conn.state === "open") {
      next = "open";
      this.everOpen = true;
    } else if (!environmentOnline()) next = "offline";
    else next = this.everOpen || conn.attempts > 1 ? "reconnecting" : "connecting";
    if (next === this.state) return;
    this.state = next;
    this.events.emit("state", { state: next });
  }

  private connection(hooks: ConnectionHooks): Connection {
    const W = this.WebSocketCtor;
    if (!W) throw new ChatError("invalid", "there is no WebSocket here: pass one (Node 20: the ws package)");
    return new Connection(hooks, {
      WebSocket: W,
      backoff: new Backoff(this.o.backoff),
      ...(this.o.heartbeatMs !== undefined ? { heartbeatMs: this.o.heartbeatMs } : {}),
      ...(this.o.pongTimeoutMs !== undefined ? { pongTimeoutMs: this.o.pongTimeoutMs } : {}),
    });
  }

  private wsUrl(pathAndQuery: string): string {
    return this.http.baseUrl.replace(/^http/, "ws") + pathAndQuery;
  }

  private requireSession(): SessionSocket {
    if (!this.session) throw new ChatError("signed_out", "sign in first");
    return this.session;
  }

  /** A UUID from the caller, checked before it goes into a path. */
  private id(value: string): string {
    const parsed = Id.safeParse(value);
    if (!parsed.success) throw new ChatError("invalid", `not an id: ${JSON.stringify(value)}`);
    return parsed.data.toLowerCase();
  }

  /** A request body or query checked by its protocol schema before it is sent. */
  private parse<S extends { safeParse(v: unknown): ParseResult }>(schema: S, value: unknown): ParsedOf<S> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new ChatError("invalid", describeIssues(parsed.error.issues));
    return parsed.data as ParsedOf<S>;
  }
}

type ParseResult =
  | { success: true; data: unknown }
  | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };
type ParsedOf<S> = S extends { safeParse(v: unknown): infer R }
  ? R extends { success: true; data: infer D }
    ? D
    : never
  : never;

function defaultStorage(): ChatStorage {
  const g = globalThis as { indexedDB?: unknown; IDBKeyRange?: unknown };
  return g.indexedDB && g.IDBKeyRange ? indexedDbStorage() : memoryStorage();
}

export function createChatClient(options: ChatClientOptions): ChatClient {
  return new ChatClient(options);
}
