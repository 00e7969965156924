// Delivered and read ticks on one's own messages, from the offsets the room reports (`receipt`
// and `receipts` frames). An offset only moves forward; reading a message implies having it.
export interface MemberOffsets {
  read_seq: number;
  delivered_seq: number;
}
export type Offsets = ReadonlyMap<string, MemberOffsets>;

export function applyReceipt(
  offsets: Offsets,
  r: { user_id: string; read_seq?: number; delivered_seq?: number },
): Offsets {
  const held = offsets.get(r.user_id) ?? { read_seq: 0, delivered_seq: 0 };
  const read_seq = Math.max(held.read_seq, r.read_seq ?? 0);
  const delivered_seq = Math.max(held.delivered_seq, r.delivered_seq ?? 0, read_seq);
  if (read_seq === held.read_seq && delivered_seq === held.delivered_seq && offsets.has(r.user_id)) return offsets;
  const next = new Map(offsets);
  next.set(r.user_id, { read_seq, delivered_seq });
  return next;
}

export type Tick = "pending" | "failed" | "sent" | "delivered" | "read";

/**
 * A sent message's tick: `read` once every other member read it, `delivered` once every other
 * member has it, `sent` before that (and in a room with nobody else).
 */
export function tickFor(seq: number, others: readonly string[], offsets: Offsets): { tick: Tick; readBy: number } {
  let read = 0;
  let delivered = 0;
  for (const id of others) {
    const o = offsets.get(id);
    if (!o) continue;
    if (o.read_seq >= seq) read++;
    if (o.delivered_seq >= seq) delivered++;
  }
  const n = others.length;
  const tick = n > 0 && read === n ? "read" : n > 0 && delivered === n ? "delivered" : "sent";
  return { tick, readBy: read };
}

/** What a tick says to a screen reader. */
export function tickLabel(tick: Tick, readBy: number, others: number): string {
  switch (tick) {
    case "pending":
      return "Sending";
    case "failed":
      return "Not sent";
    case "sent":
      return others > 1 && readBy > 0 ? `Sent, read by ${readBy} of ${others}` : "Sent";
    case "delivered":
      return others > 1 && readBy > 0 ? `Delivered, read by ${readBy} of ${others}` : "Delivered";
    case "read":
      return others > 1 ? `Read by all ${others}` : "Read";
  }
}
