// The user's room subscriptions: on the first socket the session subscribes to the user's most
// recently active rooms (bounded in count and in parallelism), so those rooms know who is online
// without asking; the others are subscribed lazily, when the room list shows them or the user
// joins them. On the last socket it unsubscribes from all it subscribed to. Each answer refreshes
// the per-room cache behind GET /v1/rooms.
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

export type SubscriptionStore = Pick<
  SessionStore,
  "cached" | "replaceSummary" | "dropRoom" | "markSubscribed" | "subscribedRoomIds" | "clearSubscribed"
>;

export interface SubscriptionsHost {
  store: SubscriptionStore;
  room(roomId: string): RoomPeer;
  /** the rooms the user is an active member of, latest activity first, at most `limit` (PostgreSQL) */
  roomIdsOf(userId: string, limit: number): Promise<string[]>;
  online(): boolean;
  /** how many rooms the first socket subscribes to */
  maxRooms: number;
}

export class Subscriptions {
  /** the round in flight, so going offline can wait for it and undo all of it */
  private round: Promise<void> | null = null;

  constructor(private readonly host: SubscriptionsHost) {}

  subscribeAll(userId: string): Promise<void> {
    const round = (async () => {
      await this.subscribe(userId, await this.host.roomIdsOf(userId, this.host.maxRooms));
    })().catch((err: unknown) => console.warn(`subscribing ${userId} failed: ${String(err)}`));
    this.round = round;
    return round;
  }

  async subscribe(userId: string, roomIds: readonly string[]): Promise<Map<string, RoomSummary>> {
    const answers = await mapLimit(roomIds, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).subscribe(userId));
    const got = new Map<string, RoomSummary>();
    answers.forEach((a, i) => {
      const roomId = roomIds[i]!;
      if (a instanceof Error) console.warn(`subscribe to ${roomId} failed: ${a.message}`);
      else if (a) {
        this.host.store.replaceSummary(a);
        this.host.store.markSubscribed(roomId);
        got.set(roomId, a);
      } else this.host.store.dropRoom(roomId);
    });
    return got;
  }

  /** The subscription round in flight has finished (going offline waits for it, then undoes all of it). */
  async settled(): Promise<void> {
    await this.round;
  }

  async unsubscribeAll(userId: string): Promise<void> {
    const rooms = this.host.store.subscribedRoomIds();
    this.host.store.clearSubscribed();
    await mapLimit(rooms, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).unsubscribe(userId));
  }

  /**
   * Summaries for GET /v1/rooms (one page of it). While online, a subscribed room's cache is kept
   * current by activity; a room of the page not subscribed yet is subscribed now (its answer is
   * the summary), so a user with more rooms than the first round covers hears of those they look
   * at. Offline, it asks the rooms themselves.
   */
  async summaries(userId: string, roomIds: string[]): Promise<Record<string, RoomSummary>> {
    const cached = this.host.store.cached(roomIds);
    if (this.host.online()) {
      const subscribed = new Set(this.host.store.subscribedRoomIds());
      const fresh = await this.subscribe(
        userId,
        roomIds.filter((id) => !subscribed.has(id) || !cached.has(id)),
      );
      for (const [id, s] of fresh) cached.set(id, s);
    } else {
      const answers = await mapLimit(roomIds, ROOM_PARALLELISM, (roomId) => this.host.room(roomId).summary(userId));
      answers.forEach((a, i) => {
        if (a instanceof Error || !a) return;
        this.host.store.replaceSummary(a);
        cached.set(roomIds[i]!, a);
      });
    }
    const asked = new Set(roomIds);
    return Object.fromEntries([...cached].filter(([id]) => asked.has(id)));
  }
}
