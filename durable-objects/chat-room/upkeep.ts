// The room's upkeep: retention, expired dedupe keys and tickets, push rows nobody took and the
// hot tail's bounds (every few hours, and exactly when the oldest message passes retention, so
// a room nobody touches still drops it on time); the cleanup of a direct room that was opened and
// never used; and dropping the storage of a room PostgreSQL closed (a group whose last member left).
import type { TimedJob } from "../shared/alarm.js";
import { earliest } from "../shared/alarm.js";
import type { RoomMeta } from "./store.js";

const MAINTENANCE_EVERY_MS = 6 * 3600_000;
const CLEANUP_RETRY_MS = 60_000;

export interface UpkeepHost {
  meta(): RoomMeta | null;
  /** when upkeep last said it is next due (kept in storage across restarts) */
  maintenanceAt(): number | null;
  setMaintenanceAt(at: number): void;
  oldestMessageAt(): number | null;
  /** drops what outlived its purpose (one transaction) */
  prune(now: number): void;
  /** anyone online here: a stream, or a subscribed session */
  anyoneHere(): boolean;
  /** nothing left to hand to the archive (messages, read offsets) */
  archived(): boolean;
  /** marks the room cleaned in PostgreSQL (source of truth first), then drops the object's storage */
  markCleaned(roomId: string): Promise<void>;
  dropEverything(): Promise<void>;
}

export interface UpkeepSettings {
  retentionMs: number;
  emptyRoomTtlMs: number;
}

export class Upkeep implements TimedJob {
  private cleanupRetryAt: number | null = null;

  constructor(
    private readonly host: UpkeepHost,
    private readonly s: UpkeepSettings,
  ) {}

  /**
   * A direct room that never had a message, with nobody here, is removed after it idled past the
   * limit: opening a chat makes one, and it comes back (same id) when opened again. A group is
   * never removed for being quiet: somebody made it, and its members expect it listed.
   */
  private cleanupAt(meta: RoomMeta): number | null {
    if (meta.type !== "direct" || !meta.active || meta.last_seq > 0 || this.host.anyoneHere()) return null;
    return Math.max(meta.last_activity + this.s.emptyRoomTtlMs, this.cleanupRetryAt ?? 0);
  }

  /** A room PostgreSQL closed keeps its storage only until the archive holds everything in it. */
  private closed(meta: RoomMeta): boolean {
    return !meta.active && this.host.archived();
  }

  /** `never`: when upkeep never ran in this room (whatever it holds, it runs at the next alarm) */
  private maintenanceDue(never: number): number | null {
    const oldest = this.host.oldestMessageAt();
    return earliest(this.host.maintenanceAt() ?? never, oldest === null ? null : oldest + this.s.retentionMs);
  }

  dueAt(now: number): number | null {
    const meta = this.host.meta();
    if (!meta) return null;
    if (this.closed(meta)) return now;
    // a room without messages has nothing that expires on a clock: it needs no alarm of its own
    return earliest(meta.last_seq > 0 ? this.maintenanceDue(now) : null, this.cleanupAt(meta));
  }

  async run(now: number): Promise<void | "stop"> {
    const meta = this.host.meta();
    if (!meta) return;
    if (this.closed(meta)) {
      await this.host.dropEverything();
      return "stop";
    }
    const maintenance = this.maintenanceDue(0);
    if (maintenance !== null && maintenance <= now) {
      this.host.prune(now);
      this.host.setMaintenanceAt(now + MAINTENANCE_EVERY_MS);
    }
    const cleanup = this.cleanupAt(meta);
    if (cleanup === null || cleanup > now) return;
    try {
      await this.host.markCleaned(meta.room_id);
    } catch (err) {
      console.warn(`cleanup of room ${meta.room_id} postponed: ${String(err)}`);
      this.cleanupRetryAt = now + CLEANUP_RETRY_MS;
      return;
    }
    await this.host.dropEverything();
    return "stop";
  }
}
