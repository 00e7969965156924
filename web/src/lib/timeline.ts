// One room's messages as the chat view shows them: the stored messages in seq order, each once,
// in its latest version, and below them the sends of this device that have no seq yet. Pure
// functions over an immutable value, so the view state can hold it in a signal and tests can
// check every rule without a browser.
import type { Message } from "../../../protocol/index.js";

/** A send of this device that the room has not acknowledged: shown as pending (or failed) until it has a seq. */
export interface PendingSend {
  client_message_id: string;
  body: string;
  mentions: string[];
  /** when it was queued, by this device's clock */
  queued_at: string;
  state: "pending" | "failed";
  /** why it failed (a refusal's code), for the failed state */
  error?: string;
}

export interface Timeline {
  /** ascending by seq, one per seq */
  messages: readonly Message[];
  pending: readonly PendingSend[];
  /** whether history holds messages older than the first one here */
  hasOlder: boolean;
}

export const emptyTimeline = (): Timeline => ({ messages: [], pending: [], hasOlder: true });

/** A version's place in the room's change order: a message as sent is rev 0. */
const revOf = (m: Message) => m.rev ?? 0;

/**
 * Adds messages (live, replayed or a history page, in any order): a seq already held keeps the
 * newer version (an edit or delete must not be undone by a page fetched before it). A pending
 * send whose message arrived is no longer pending.
 */
export function addMessages(t: Timeline, incoming: readonly Message[]): Timeline {
  if (incoming.length === 0) return t;
  const bySeq = new Map(t.messages.map((m) => [m.seq, m]));
  let changed = false;
  for (const m of incoming) {
    const held = bySeq.get(m.seq);
    if (held && revOf(held) >= revOf(m)) continue;
    bySeq.set(m.seq, m);
    changed = true;
  }
  const arrived = new Set(incoming.map((m) => m.client_message_id));
  const pending = t.pending.filter((p) => !arrived.has(p.client_message_id));
  if (!changed && pending.length === t.pending.length) return t;
  const messages = changed ? [...bySeq.values()].sort((a, b) => a.seq - b.seq) : t.messages;
  return { ...t, messages, pending };
}

/**
 * An edit or delete of a message: replaces the version held when it is newer. A change to a
 * message older than anything loaded is not kept; history shows its current version when paged.
 */
export function applyUpdate(t: Timeline, message: Message): Timeline {
  const i = t.messages.findIndex((m) => m.seq === message.seq);
  if (i < 0 || revOf(t.messages[i]!) >= revOf(message)) return t;
  const messages = t.messages.slice();
  messages[i] = message;
  return { ...t, messages };
}

/** A history page: older messages, and whether there are more before them. */
export function addOlderPage(t: Timeline, page: readonly Message[], hasMore: boolean): Timeline {
  return { ...addMessages(t, page), hasOlder: hasMore };
}

/**
 * The sends this device has queued, as the outbox reports them (its whole list, in queue order):
 * one whose message already arrived is not shown twice.
 */
export function setPending(t: Timeline, sends: readonly PendingSend[]): Timeline {
  const arrived = new Set(t.messages.map((m) => m.client_message_id));
  const pending = sends.filter((s) => !arrived.has(s.client_message_id));
  if (pending.length === t.pending.length && pending.every((p, i) => samePending(p, t.pending[i]!))) return t;
  return { ...t, pending };
}

const samePending = (a: PendingSend, b: PendingSend) =>
  a.client_message_id === b.client_message_id && a.state === b.state && a.error === b.error;

export const oldestSeq = (t: Timeline): number | undefined => t.messages[0]?.seq;
export const newestSeq = (t: Timeline): number | undefined => t.messages[t.messages.length - 1]?.seq;
