// Gap-free, duplicate-free order of one room's messages. A room gives every message the next seq;
// the client delivers seq N only after N-1, drops what it has delivered before (a replay after a
// reconnect repeats messages), and holds messages that arrive ahead of a gap until the gap is filled
// (by an HTTP page) or known to be unfillable. Pure: the room (room.ts) does the fetching.
export interface Sequenced {
  seq: number;
}

export interface Gap {
  /** first missing seq */
  from: number;
  /** last missing seq */
  to: number;
}

export class SeqTracker<T extends Sequenced> {
  private delivered: number | null;
  private readonly ahead = new Map<number, T>();

  /** `last`: the seq delivered last, or null when the room is new to us (the first message sets it) */
  constructor(last: number | null = null) {
    this.delivered = last;
  }

  /** whether a starting point is set */
  get started(): boolean {
    return this.delivered !== null;
  }

  /** the last seq delivered (0 when not started) */
  get last(): number {
    return this.delivered ?? 0;
  }

  /** Sets the starting point of a room new to us: everything at or below `last` is history, not a gap. */
  start(last: number): void {
    if (this.delivered === null) this.delivered = Math.max(0, last);
  }

  /** An arriving message: what can be delivered now, in order (often just it, or nothing). */
  offer(item: T): T[] {
    if (this.delivered === null) this.delivered = item.seq - 1;
    if (item.seq <= this.delivered) return [];
    if (item.seq > this.delivered + 1) {
      this.ahead.set(item.seq, item);
      return [];
    }
    this.delivered = item.seq;
    return [item, ...this.drain()];
  }

  /** The first run of missing seqs before a held message, or null when nothing is held. */
  gap(): Gap | null {
    const first = this.firstAhead();
    if (first === null) return null;
    return { from: this.last + 1, to: first - 1 };
  }

  /** the highest seq held ahead of a gap, or null */
  maxAhead(): number | null {
    let max: number | null = null;
    for (const seq of this.ahead.keys()) max = max === null ? seq : Math.max(max, seq);
    return max;
  }

  /** A held message by seq (to bring it up to date before it is delivered). */
  held(seq: number): T | undefined {
    return this.ahead.get(seq);
  }

  replaceHeld(item: T): void {
    if (this.ahead.has(item.seq)) this.ahead.set(item.seq, item);
  }

  /**
   * The seqs up to `seq` cannot be had (they were never visible to us): move past them and deliver
   * what was held after them.
   */
  skipTo(seq: number): T[] {
    if (this.delivered === null || seq <= this.delivered) return [];
    this.delivered = seq;
    for (const s of [...this.ahead.keys()]) if (s <= seq) this.ahead.delete(s);
    return this.drain();
  }

  private firstAhead(): number | null {
    let min: number | null = null;
    for (const seq of this.ahead.keys()) min = min === null ? seq : Math.min(min, seq);
    return min;
  }

  private drain(): T[] {
    const out: T[] = [];
    for (;;) {
      const next = this.ahead.get(this.last + 1);
      if (!next) return out;
      this.ahead.delete(next.seq);
      this.delivered = next.seq;
      out.push(next);
    }
  }
}
