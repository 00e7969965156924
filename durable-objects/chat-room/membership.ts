// The room's copy of its membership. PostgreSQL is the source of truth: the rooms API pushes a
// full versioned snapshot after every change (an older version is ignored), and a room without
// state (first use, lost storage) loads the snapshot itself. From the moment a snapshot applies,
// a removed or blocked member hears nothing more.
import type { RoomSnapshot, SyncResult } from "../../protocol/index.js";
import { CloseCode, type SocketInfo } from "../shared/sockets.js";
import { blockedFrom } from "./access.js";
import { planMembership, type MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

export interface MembershipHost {
  meta(): RoomMeta | null;
  members(): readonly MemberState[];
  transaction<T>(fn: () => T): T;
  write(
    plan: { upserts: MemberState[]; removed: string[]; joined: string[] },
    snapshot: RoomSnapshot,
    lastSeq: number,
    touched: boolean,
  ): void;
  /** closes the sockets `match` picks */
  closeWhere(match: (info: SocketInfo) => boolean, code: number, reason: string): void;
  loadSnapshot(roomId: string): Promise<RoomSnapshot | null>;
  reschedule(): Promise<void>;
}

/**
 * Whether a pushed snapshot replaces what the room holds. An older version never applies, whatever
 * its `active` flag (a late push must not revive a deleted room, nor shut a revived one). At the
 * same version only a shutdown applies: cleanup marks a room inactive without a new version.
 */
export function supersedes(
  snapshot: Pick<RoomSnapshot, "version" | "active">,
  meta: Pick<RoomMeta, "version" | "active">,
): boolean {
  if (snapshot.version !== meta.version) return snapshot.version > meta.version;
  return meta.active && !snapshot.active;
}

/** Does a copy at `held` miss changes that version `known` has? (Versions only grow, one per change.) */
export const isBehind = (held: number | undefined, known: number): boolean => (held ?? 0) < known;

export class Membership {
  private loading: Promise<RoomMeta | null> | null = null;
  private reloading: Promise<SyncResult> | null = null;

  constructor(private readonly host: MembershipHost) {}

  async sync(snapshot: RoomSnapshot): Promise<SyncResult> {
    const meta = this.host.meta();
    if (meta && !supersedes(snapshot, meta)) return { applied: false, version: meta.version };
    this.apply(snapshot, meta);
    await this.host.reschedule();
    return { applied: true, version: snapshot.version };
  }

  /**
   * Someone knows that version `known` committed in PostgreSQL (a push that failed, retried from
   * an alarm; null: a change whose version is not known): a copy behind it reloads the snapshot
   * itself; one at or past it changes nothing. A room without a copy loads the current one, and a
   * room that is gone holds nothing stale: both count as caught up.
   */
  async catchUp(roomId: string, known: number | null): Promise<SyncResult> {
    const meta = this.host.meta();
    if (!meta) {
      const loaded = await this.ready(roomId);
      return { applied: loaded !== null, version: loaded?.version ?? known ?? 0 };
    }
    if (known !== null && !isBehind(meta.version, known)) return { applied: false, version: meta.version };
    this.reloading ??= (async () => {
      try {
        const snapshot = await this.host.loadSnapshot(roomId);
        return snapshot ? await this.sync(snapshot) : { applied: false, version: known ?? meta.version };
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** The room's state, from storage or (first use, or storage lost) from PostgreSQL. */
  async ready(roomId: string): Promise<RoomMeta | null> {
    const meta = this.host.meta();
    if (meta) return meta;
    this.loading ??= (async () => {
      try {
        const snapshot = await this.host.loadSnapshot(roomId);
        // a room that is gone (or was cleaned up) gets no storage back
        if (!snapshot?.active) return null;
        if (!this.host.meta()) this.apply(snapshot, null);
        await this.host.reschedule();
        return this.host.meta();
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private apply(snapshot: RoomSnapshot, meta: RoomMeta | null): void {
    const current = new Map(this.host.members().map((m) => [m.user_id, m]));
    const lastSeq = meta?.last_seq ?? 0;
    const plan = planMembership(current, snapshot, lastSeq, meta === null);
    this.host.transaction(() => this.host.write(plan, snapshot, lastSeq, !meta || plan.joined.length > 0));
    if (!snapshot.active) {
      this.host.closeWhere(() => true, CloseCode.roomGone, "the room no longer exists");
      return;
    }
    const removed = new Set(plan.removed);
    this.host.closeWhere((i) => removed.has(i.userId), CloseCode.removed, "you are no longer a member of this room");
    this.host.closeWhere(
      (i) => blockedFrom(snapshot.blocks, snapshot.type, i.userId).read,
      CloseCode.removed,
      "you can no longer read this room",
    );
  }
}
