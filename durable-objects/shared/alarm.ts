// One alarm per object serves every timed job: each job says when it is next due (or never); the
// alarm runs what is due, then sets itself to the earliest of what is left.
export type Due = number | null | undefined;

export function earliest(...dues: Due[]): number | null {
  let min: number | null = null;
  for (const d of dues) if (typeof d === "number" && Number.isFinite(d) && (min === null || d < min)) min = d;
  return min;
}

/**
 * Keeps the object's single alarm at the earliest due time without a storage write per call:
 * only moves it when the new time is earlier than the one set (or none is set).
 */
export class AlarmSlot {
  private at: number | null | undefined; // undefined: not read from storage yet

  constructor(
    private readonly storage: Pick<DurableObjectStorage, "getAlarm" | "setAlarm" | "deleteAlarm">,
    private readonly clock: () => number = Date.now,
  ) {}

  async request(due: number | null): Promise<void> {
    if (due === null) return;
    if (this.at === undefined) this.at = await this.storage.getAlarm();
    // A remembered time already past is no alarm: it fired, and if its handler threw past the
    // runtime's retries nothing is set any more. Trusting it would stop every job for good.
    if (this.at !== null && this.at <= due && this.at >= this.clock()) return;
    this.at = due;
    await this.storage.setAlarm(due);
  }

  /**
   * After the alarm ran: set exactly the next due time (or clear it). A time not after the alarm
   * that is running is moved just past it: the runtime drops an alarm set to the very time that
   * just fired, taking it for the one handled.
   */
  async reset(due: number | null, firedAt?: number): Promise<void> {
    if (due !== null && firedAt !== undefined && due <= firedAt) due = firedAt + 1;
    this.at = due;
    if (due === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(due);
  }
}

/**
 * A room's own draw of a job's window factor, 0.75-1.25: rooms that got busy together do not all
 * reach for the sink, the relay or PostgreSQL in the same instant.
 */
export function windowJitter(random: () => number = Math.random): number {
  return 0.75 + random() * 0.5;
}

/** A timed job of an object: when it is next due, and what it does then. */
export interface TimedJob {
  dueAt(now: number): number | null;
  /** "stop": the object dropped its state; nothing else runs and no alarm is set */
  run(now: number): Promise<void | "stop"> | void | "stop";
}

/**
 * The object's alarm over its jobs. `wake(at)` is the one way a job asks for the alarm (cheap:
 * no job's due time is recomputed); `reschedule()` looks at every job after a change of state;
 * `fire()` is the alarm handler.
 */
export class Scheduler {
  private readonly slot: AlarmSlot;

  constructor(
    storage: Pick<DurableObjectStorage, "getAlarm" | "setAlarm" | "deleteAlarm">,
    private readonly waitUntil: (p: Promise<unknown>) => void,
    private readonly jobs: readonly TimedJob[],
    private readonly clock: () => number = Date.now,
  ) {
    this.slot = new AlarmSlot(storage, clock);
  }

  wake(at: number | null): void {
    this.waitUntil(this.slot.request(at));
  }

  async reschedule(): Promise<void> {
    await this.slot.request(this.nextDue(this.clock()));
  }

  async fire(): Promise<void> {
    const now = this.clock();
    for (const job of this.jobs) {
      const due = job.dueAt(now);
      if (due === null || due > now) continue;
      if ((await job.run(now)) === "stop") return;
    }
    await this.slot.reset(this.nextDue(now), now);
  }

  async clear(): Promise<void> {
    await this.slot.reset(null);
  }

  private nextDue(now: number): number | null {
    return earliest(...this.jobs.map((j) => j.dueAt(now)));
  }
}
