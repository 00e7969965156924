// The user's room subscriptions: on the first socket the session subscribes to every room the
// user is in (bounded parallelism), so rooms know who is online without asking; on the last it
// unsubscribes. Each answer refreshes the per-room cache behind GET /v1/rooms.
import type { RoomSummary } from "../../protocol/index.js";
import { mapLimit } from "../../lib/parallel/index.js";
import type { SessionStore } from "./store.js";

/** rooms subscribed to (or asked) at once: enough to be quick, few enough not to flood the runtime */
export const ROOM_PARALLELISM = 16;

/** What a session needs of a room. */
export interface RoomPeer {
  subscribe(userId: string): Promise<RoomSummary | null>;
  unsubscribe(userId: string): Promise<void>;
  summary(userId: string): Promise<RoomSummary | null>;
}

export interface SubscriptionsHost {
  store: SessionStore;
  room(roomId: string): RoomPeer;
  /** the rooms the user is an active member of (PostgreSQL) */
  roomIdsOf(userId: string): Promise<string[]>;
  online(): boolean;
}

export class Subscriptions {
  /** the round in flight, so going offline can wait for it and undo all of it */
  private round: Promise<void> | null = null;

  constructor(private readonly host: SubscriptionsHost) {}

  subscribeAll(userId: string): Promise<void> {
    const round = (async () => this.subscribe(userId, await this.host.roomIdsOf(userId)))();
    this.round = round.catch((err: unknown) => console.warn(`subscribing ${userId} failed: ${String(err)}`));
    return this.round;
  }

  async subscribe(userId: string, roomIds: readonly string[]): Promise<void> {
    const answers = await mapLimit(roomIds, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).subscribe(userId));
    answers.forEach((a, i) => {
      const roomId = roomIds[i]!;
      if (a instanceof Error) console.warn(`subscribe to ${roomId} failed: ${a.message}`);
      else if (a) this.host.store.replaceSummary(a);
      else this.host.store.dropRoom(roomId);
    });
  }

  /** The subscription round in flight has finished (going offline waits for it, then undoes all of it). */
  async settled(): Promise<void> {
    await this.round;
  }

  async unsubscribeAll(userId: string): Promise<void> {
    const rooms = this.host.store.cachedRoomIds();
    await mapLimit(rooms, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).unsubscribe(userId));
  }

  /**
   * Summaries for GET /v1/rooms. While online the cache is kept current by activity; otherwise
   * (and for rooms it has not seen) it asks the rooms themselves.
   */
  async summaries(userId: string, roomIds: string[]): Promise<Record<string, RoomSummary>> {
    const cached = this.host.store.cached(roomIds);
    const ask = this.host.online() ? roomIds.filter((id) => !cached.has(id)) : roomIds;
    const answers = await mapLimit(ask, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).summary(userId));
    answers.forEach((a, i) => {
      if (a instanceof Error || !a) return;
      this.host.store.replaceSummary(a);
      cached.set(ask[i]!, a);
    });
    const asked = new Set(roomIds);
    return Object.fromEntries([...cached].filter(([id]) => asked.has(id)));
  }
}
