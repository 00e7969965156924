// What the user asked to send, edit or delete and the server has not acknowledged yet. Each item
// is stored before anything goes on the wire, with the id that makes it idempotent
// (client_message_id, op_id) made once, here, and reused on every resend: a retry after a lost
// ack is answered with the original ack (`duplicate: true`) instead of a second message. Items
// of one room go out in the order they were queued (room.ts sends them, one at a time).
import type { DeleteFrame, EditFrame, SendFrame, ServerFrame } from "../protocol/index.js";
import type { ChatStorage } from "./storage.js";

export type OutboxKind = "send" | "edit" | "delete";
export type OutboxFrame = SendFrame | EditFrame | DeleteFrame;

export interface OutboxItem {
  /** the client_message_id of a send, the op_id of an edit or delete */
  id: string;
  kind: OutboxKind;
  room_id: string;
  /** the frame as it goes on the wire, the same on every resend */
  frame: OutboxFrame;
  /** queue order (FIFO per room) */
  order: number;
  queued_at: string;
  status: "pending" | "failed";
  /** why it failed (the server's error code and message) */
  error?: { code: string; message: string };
}

export type SendAck = Omit<Extract<ServerFrame, { type: "ack" }>, "type">;
export type OpAck = Omit<Extract<ServerFrame, { type: "op_ack" }>, "type">;

/** What a refusal of an item means. */
export type RefusalAction = "wait" | "retry" | "fail";

/**
 * `rate_limited`: resend after retry_after_ms. `unavailable` (the room is restoring, a commit
 * failed, storage is full): the same item later, with growing delays. Anything else (`forbidden`,
 * `invalid`, `not_found`, `too_large`, `conflict`…) would be refused again: the item fails, and the
 * user may retry or cancel it.
 */
export function refusalAction(code: string): RefusalAction {
  if (code === "rate_limited") return "wait";
  if (code === "unavailable") return "retry";
  return "fail";
}

/** The delay before resending an item refused `unavailable` for the `n`th time (from 1). */
export function unavailableDelayMs(n: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1));
}

export class Outbox {
  private readonly items = new Map<string, OutboxItem>();
  private lastOrder = 0;

  constructor(
    private readonly storage: ChatStorage,
    /** the storage prefix of this user's items */
    private readonly prefix: string,
  ) {}

  /** Reads the items a previous client left. */
  async load(): Promise<void> {
    for (const [, value] of await this.storage.entries(this.prefix)) {
      const item = value as OutboxItem;
      if (!item?.id || !item.frame) continue;
      this.items.set(item.id, item);
      this.lastOrder = Math.max(this.lastOrder, item.order);
    }
  }

  get(id: string): OutboxItem | undefined {
    return this.items.get(id);
  }

  /** A room's items, oldest first. */
  list(roomId: string): OutboxItem[] {
    return [...this.items.values()].filter((i) => i.room_id === roomId).sort((a, b) => a.order - b.order);
  }

  /** Rooms with items still to send. */
  roomsPending(): string[] {
    const rooms = new Set<string>();
    for (const i of this.items.values()) if (i.status === "pending") rooms.add(i.room_id);
    return [...rooms];
  }

  nextPending(roomId: string): OutboxItem | undefined {
    let first: OutboxItem | undefined;
    for (const i of this.items.values()) {
      if (i.room_id === roomId && i.status === "pending" && (!first || i.order < first.order)) first = i;
    }
    return first;
  }

  /** Queues an item and stores it; resolves once it is stored. */
  async add(kind: OutboxKind, frame: OutboxFrame, id: string): Promise<OutboxItem> {
    const item: OutboxItem = {
      id,
      kind,
      room_id: frame.room_id,
      frame,
      order: this.nextOrder(),
      queued_at: new Date().toISOString(),
      status: "pending",
    };
    this.items.set(id, item);
    await this.storage.set(this.prefix + id, item);
    return item;
  }

  async fail(id: string, error: { code: string; message: string }): Promise<OutboxItem | undefined> {
    const item = this.items.get(id);
    if (!item) return undefined;
    item.status = "failed";
    item.error = error;
    await this.storage.set(this.prefix + id, item);
    return item;
  }

  /** A failed item goes back into the queue, at its end, with the same id. */
  async requeue(id: string): Promise<OutboxItem | undefined> {
    const item = this.items.get(id);
    if (!item) return undefined;
    item.status = "pending";
    delete item.error;
    item.order = this.nextOrder();
    await this.storage.set(this.prefix + id, item);
    return item;
  }

  /** Done with (acknowledged or cancelled): gone from memory at once, from storage when the promise resolves. */
  remove(id: string): Promise<void> {
    if (!this.items.delete(id)) return Promise.resolve();
    return this.storage.delete(this.prefix + id);
  }

  /** Forgets everything of this user here and in storage (logout). */
  async clear(): Promise<void> {
    const ids = [...this.items.keys()];
    this.items.clear();
    await Promise.all(ids.map((id) => this.storage.delete(this.prefix + id)));
  }

  private nextOrder(): number {
    // wall-clock based so items queued after a reload come after the ones loaded
    this.lastOrder = Math.max(this.lastOrder + 1, Date.now() * 1000);
    return this.lastOrder;
  }
}
