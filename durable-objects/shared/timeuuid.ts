// Version-1 time UUIDs (RFC 9562 §5.1), the ids Cassandra stores as `timeuuid`.
// Inside a Worker request the clock does not advance, so ids made in the same millisecond are
// told apart by the 100-ns ticks below the millisecond (10,000 per ms) and stay ordered; if those
// run out, the generator borrows from the next millisecond rather than repeat an id.
const GREGORIAN_OFFSET_MS = 12_219_292_800_000; // 1582-10-15 to 1970-01-01
const TICKS_PER_MS = 10_000;

export class TimeUuidGenerator {
  private lastMs = Number.NEGATIVE_INFINITY;
  private tick = 0;
  private readonly clockSeq: number;
  private readonly node: string;

  constructor(random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))) {
    const r = random(8);
    this.clockSeq = ((r[0]! << 8) | r[1]!) & 0x3fff;
    // a random node id with the multicast bit set, as the RFC asks when no MAC address is used
    r[2]! |= 0x01;
    this.node = [...r.slice(2, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  next(nowMs: number = Date.now()): { id: string; ms: number } {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.tick = 0;
    } else if (++this.tick >= TICKS_PER_MS) {
      this.lastMs += 1;
      this.tick = 0;
    }
    const ticks = BigInt(this.lastMs + GREGORIAN_OFFSET_MS) * BigInt(TICKS_PER_MS) + BigInt(this.tick);
    const hex = ticks.toString(16).padStart(15, "0");
    const timeLow = hex.slice(7, 15);
    const timeMid = hex.slice(3, 7);
    const timeHi = `1${hex.slice(0, 3)}`;
    const seq = (0x8000 | this.clockSeq).toString(16);
    return { id: `${timeLow}-${timeMid}-${timeHi}-${seq}-${this.node}`, ms: this.lastMs };
  }
}

/** The 60-bit timestamp of a v1 UUID, in 100-ns ticks since 1582: sorts ids by time. */
export function timeuuidTicks(id: string): bigint {
  const [low, mid, hi] = id.split("-");
  return BigInt(`0x${hi!.slice(1)}${mid}${low}`);
}

export function timeuuidMs(id: string): number {
  return Number(timeuuidTicks(id) / BigInt(TICKS_PER_MS)) - GREGORIAN_OFFSET_MS;
}
