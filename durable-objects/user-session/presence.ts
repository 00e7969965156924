// Presence: who may watch this user, who watches, and telling them of changes. A device asks
// with `watch_presence`; the watched users' sessions remember the watcher and tell it when they
// come online or go offline, until no device of the watcher watches them any more. Who may watch
// whom (db/presence-scope.ts) is asked again when a block, a friend removal or a membership
// change may have ended it (`recheck`), so updates stop then, not at the next watch_presence.
import type { PresenceStatus, ServerFrame } from "../../protocol/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import type { SocketHost } from "../shared/sockets.js";
import type { SessionStore } from "./store.js";

const PRESENCE_PARALLELISM = 16;

export interface PresenceAnswer {
  status: PresenceStatus;
  last_seen_at?: string;
}

/** What presence needs of other users' sessions. */
export interface PresencePeer {
  watch(watcherId: string): Promise<PresenceAnswer>;
  presenceChanged(who: string, status: PresenceStatus, lastSeenAt?: string): Promise<{ watching: boolean }>;
  /** `watcherId` may no longer see this user: forget them as a watcher */
  unwatch(watcherId: string): Promise<void>;
}

export type PresenceStore = Pick<
  SessionStore,
  | "get"
  | "setWatching"
  | "addWatcher"
  | "watchers"
  | "removeWatchers"
  | "devicesWatching"
  | "watchedUsers"
  | "unwatchUsers"
>;

export interface PresenceHost {
  store: PresenceStore;
  sockets: SocketHost;
  peer(userId: string): PresencePeer;
  /** the subset of `userIds` this user may watch (PostgreSQL) */
  watchable(userId: string, userIds: readonly string[]): Promise<string[]>;
  /** the subset of `watcherIds` that may watch this user (PostgreSQL) */
  allowedWatchers(userId: string, watcherIds: readonly string[]): Promise<string[]>;
}

const presenceFrame = (user_id: string, status: PresenceStatus, lastSeenAt?: string): ServerFrame => ({
  type: "presence",
  user_id,
  status,
  ...(lastSeenAt ? { last_seen_at: lastSeenAt } : {}),
});

export class Presence {
  constructor(private readonly host: PresenceHost) {}

  /** This user's status as a watcher sees it. */
  current(): PresenceAnswer {
    if (this.host.sockets.size > 0) return { status: "online" };
    const last = this.host.store.get("last_seen");
    return { status: "offline", ...(last ? { last_seen_at: new Date(Number(last)).toISOString() } : {}) };
  }

  /** A device's watch_presence: answers each watchable user's status, then keeps it told. */
  async watchFor(ws: WebSocket, userId: string, deviceId: string, userIds: string[]): Promise<void> {
    const allowed = await this.host.watchable(userId, userIds);
    this.host.store.setWatching(deviceId, allowed);
    const answers = await mapLimit(allowed, PRESENCE_PARALLELISM, (target) => this.host.peer(target).watch(userId));
    answers.forEach((a, i) => {
      if (!(a instanceof Error)) this.host.sockets.send(ws, presenceFrame(allowed[i]!, a.status, a.last_seen_at));
    });
  }

  /** Another user's session wants to hear this user's changes. */
  watchedBy(watcherId: string, now: number): PresenceAnswer {
    this.host.store.addWatcher(watcherId, now);
    return this.current();
  }

  /** A user this one watches changed; false when no device watches them any more. */
  changed(who: string, status: PresenceStatus, lastSeenAt?: string): { watching: boolean } {
    const devices = new Set(this.host.store.devicesWatching(who));
    if (this.host.sockets.size === 0 || devices.size === 0) return { watching: false };
    const frame = JSON.stringify(presenceFrame(who, status, lastSeenAt));
    let sent = false;
    for (const [ws, info] of this.host.sockets.entries()) {
      if (devices.has(info.deviceId)) sent = this.host.sockets.send(ws, frame) || sent;
    }
    return { watching: sent };
  }

  /** This user came online or went offline: the watchers hear it; those who stopped watching are forgotten. */
  async announce(status: PresenceStatus, lastSeenAt?: string): Promise<void> {
    const watchers = this.host.store.watchers();
    if (watchers.length === 0) return;
    const answers = await mapLimit(watchers, PRESENCE_PARALLELISM, (w) =>
      this.host.peer(w).presenceChanged(this.selfOf(), status, lastSeenAt),
    );
    const stopped = watchers.filter((_, i) => {
      const a = answers[i];
      return a !== undefined && !(a instanceof Error) && !a.watching;
    });
    this.host.store.removeWatchers(stopped);
  }

  /**
   * Something between this user and others changed (a block, a friend removed, a room left):
   * watchers who may no longer see this user are forgotten, and users this user may no longer
   * see forget this user's devices (in their sessions, which otherwise would keep telling them).
   */
  async recheck(userId: string): Promise<{ dropped: string[]; unwatched: string[] }> {
    const watchers = this.host.store.watchers();
    const watched = this.host.store.watchedUsers();
    const [mayWatchMe, mayISee] = await Promise.all([
      watchers.length ? this.host.allowedWatchers(userId, watchers) : [],
      watched.length ? this.host.watchable(userId, watched) : [],
    ]);
    const keepWatchers = new Set(mayWatchMe);
    const dropped = watchers.filter((w) => !keepWatchers.has(w));
    this.host.store.removeWatchers(dropped);
    const keepWatched = new Set(mayISee);
    const unwatched = watched.filter((u) => !keepWatched.has(u));
    this.host.store.unwatchUsers(unwatched);
    const answers = await mapLimit(unwatched, PRESENCE_PARALLELISM, (u) => this.host.peer(u).unwatch(userId));
    answers.forEach((a, i) => {
      if (a instanceof Error) console.warn(`${unwatched[i]} did not forget watcher ${userId}: ${a.message}`);
    });
    return { dropped, unwatched };
  }

  /** A watcher may no longer see this user. */
  unwatch(watcherId: string): void {
    this.host.store.removeWatchers([watcherId]);
  }

  private selfOf(): string {
    return this.host.store.get("user_id") ?? "";
  }
}
