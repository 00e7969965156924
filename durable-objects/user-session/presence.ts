// Presence: who may watch this user, who watches, and telling them of changes. A device asks
// with `watch_presence`; the watched users' sessions remember the watcher and tell it when they
// come online or go offline, until no device of the watcher watches them any more.
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
}

export interface PresenceHost {
  store: SessionStore;
  sockets: SocketHost;
  peer(userId: string): PresencePeer;
  /** the subset of `userIds` this user may watch (PostgreSQL) */
  watchable(userId: string, userIds: readonly string[]): Promise<string[]>;
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

  private selfOf(): string {
    return this.host.store.get("user_id") ?? "";
  }
}
