import { describe, expect, it } from "vitest";
import { AlarmSlot, Scheduler, earliest, type TimedJob } from "./alarm.js";

describe("earliest", () => {
  it("picks the smallest due time and ignores jobs that are not due", () => {
    expect(earliest(30, null, 10, undefined, 20)).toBe(10);
    expect(earliest(null, undefined)).toBeNull();
    expect(earliest(Number.NaN, 5)).toBe(5);
  });
});

function fakeStorage(initial: number | null = null) {
  const sets: Array<number | null> = [];
  let alarm = initial;
  return {
    sets,
    get alarm() {
      return alarm;
    },
    storage: {
      getAlarm: async () => alarm,
      setAlarm: async (t: number | Date) => void sets.push((alarm = Number(t))),
      deleteAlarm: async () => void sets.push((alarm = null)),
    },
  };
}

describe("AlarmSlot", () => {
  it("moves the alarm only to an earlier time", async () => {
    const f = fakeStorage();
    const slot = new AlarmSlot(f.storage, () => 0);
    await slot.request(100);
    await slot.request(200);
    await slot.request(50);
    expect(f.sets).toEqual([100, 50]);
  });
  it("treats a remembered time that has passed as no alarm (its handler may have failed for good)", async () => {
    const f = fakeStorage();
    let now = 0;
    const slot = new AlarmSlot(f.storage, () => now);
    await slot.request(100);
    now = 500; // the alarm at 100 fired and its handler threw past the runtime's retries
    await slot.request(900);
    expect(f.sets).toEqual([100, 900]);
  });
  it("never re-sets the instant that just fired", async () => {
    const f = fakeStorage();
    await new AlarmSlot(f.storage).reset(1000, 1000);
    expect(f.sets).toEqual([1001]);
  });
});

describe("Scheduler", () => {
  const job = (due: () => number | null, log: string[], name: string, result?: "stop"): TimedJob => ({
    dueAt: due,
    run: () => {
      log.push(name);
      return result;
    },
  });

  it("runs only what is due, in order, then sets the earliest of what is left", async () => {
    const f = fakeStorage();
    const log: string[] = [];
    let aDue: number | null = 100;
    const jobs = [
      job(() => aDue, log, "a"),
      job(() => 5000, log, "b"),
      { dueAt: () => 100, run: () => void log.push("c") },
    ];
    jobs[0]!.run = () => {
      log.push("a");
      aDue = 3000;
    };
    const s = new Scheduler(
      f.storage,
      () => {},
      jobs,
      () => 100,
    );
    await s.fire();
    expect(log).toEqual(["a", "c"]);
    // c stays due "now": moved past the instant that fired, never dropped
    expect(f.alarm).toBe(101);
  });
  it("stops at a job that dropped the object's state, and sets nothing", async () => {
    const f = fakeStorage();
    const log: string[] = [];
    const s = new Scheduler(
      f.storage,
      () => {},
      [job(() => 0, log, "a", "stop"), job(() => 0, log, "b")],
      () => 10,
    );
    await s.fire();
    expect(log).toEqual(["a"]);
    expect(f.sets).toEqual([]);
  });
  it("wake() asks for one time without looking at any job", async () => {
    const f = fakeStorage();
    const pending: Promise<unknown>[] = [];
    let looked = 0;
    const s = new Scheduler(
      f.storage,
      (p) => pending.push(p),
      [{ dueAt: () => (looked++, 10), run: () => {} }],
      () => 0,
    );
    s.wake(700);
    await Promise.all(pending);
    expect(f.alarm).toBe(700);
    expect(looked).toBe(0);
    await s.reschedule();
    expect(f.alarm).toBe(10);
  });
});
