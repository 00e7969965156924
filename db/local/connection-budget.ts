// How many PostgreSQL connections the local proxy may hold at once, and who waits. PostgreSQL
// refuses connections past its max_connections (100 locally), and every Worker request opens its
// own through the proxy, so a burst of requests beyond it used to fail with 5xx; here it waits.
//
// A strict budget can deadlock: a request may hold one connection idle (in its own pool) while it
// waits for another, or for a Durable Object that is loading its snapshot from PostgreSQL through
// the same proxy. If every slot is held that way, nobody ever releases one. So a connection that
// has waited `reserveAfterMs` may take one of `reserve` extra slots: the server still never sees
// more than budget + reserve, and a stuck queue drains.

export interface BudgetOptions {
  /** connections served at once in the normal case */
  budget: number;
  /** extra connections for waiters that have waited reserveAfterMs (0: a strict budget) */
  reserve: number;
  reserveAfterMs: number;
}

export interface Waiter {
  since: number;
  admit(): void;
}

export class ConnectionBudget {
  private active = 0;
  private readonly queue: Waiter[] = [];
  /** the most connections held at once since start (for tests and logs) */
  peak = 0;

  constructor(readonly opts: BudgetOptions) {
    if (!Number.isInteger(opts.budget) || opts.budget < 1) throw new Error("budget must be a whole number ≥ 1");
    if (!Number.isInteger(opts.reserve) || opts.reserve < 0) throw new Error("reserve must be a whole number ≥ 0");
  }

  get held(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Admits at once when a slot is free, else queues `w` (first come, first served). */
  request(w: Waiter, now: number): void {
    this.queue.push(w);
    this.pump(now);
  }

  /** A waiter that gave up (its client went away) leaves the queue. */
  cancel(w: Waiter): void {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
  }

  release(now: number): void {
    this.active = Math.max(0, this.active - 1);
    this.pump(now);
  }

  /** Admits whom the slots allow; call on a timer too, so long waiters reach the reserve. */
  pump(now: number): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      const limit =
        now - head.since >= this.opts.reserveAfterMs ? this.opts.budget + this.opts.reserve : this.opts.budget;
      if (this.active >= limit) return;
      this.queue.shift();
      this.active += 1;
      this.peak = Math.max(this.peak, this.active);
      head.admit();
    }
  }

  /** When the head of the queue may use the reserve (null: nothing to wait for). */
  nextReserveAt(): number | null {
    const head = this.queue[0];
    if (!head || this.opts.reserve === 0) return null;
    return head.since + this.opts.reserveAfterMs;
  }
}

/** The proxy's settings from the environment (PG_PROXY_BUDGET, PG_PROXY_RESERVE, PG_PROXY_RESERVE_AFTER_MS). */
export function budgetFromEnv(env: Record<string, string | undefined> = process.env): BudgetOptions {
  const num = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, not "${raw}"`);
    return n;
  };
  return {
    budget: num("PG_PROXY_BUDGET", DEFAULT_BUDGET.budget, 1),
    reserve: num("PG_PROXY_RESERVE", DEFAULT_BUDGET.reserve, 0),
    reserveAfterMs: num("PG_PROXY_RESERVE_AFTER_MS", DEFAULT_BUDGET.reserveAfterMs, 0),
  };
}

/** 30 + 20 = 50 at most: half of the local server's max_connections, room for migrations, tests and psql. */
export const DEFAULT_BUDGET: BudgetOptions = { budget: 30, reserve: 20, reserveAfterMs: 1000 };
