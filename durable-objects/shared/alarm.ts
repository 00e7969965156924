// One alarm per object serves every timed job: each job says when it is next due (or never),
// and the object sets its alarm to the earliest.
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

  constructor(private readonly storage: DurableObjectStorage) {}

  async request(due: number | null): Promise<void> {
    if (due === null) return;
    if (this.at === undefined) this.at = await this.storage.getAlarm();
    if (this.at !== null && this.at <= due) return;
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
