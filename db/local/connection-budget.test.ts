import { describe, expect, it } from "vitest";
import { ConnectionBudget, budgetFromEnv, DEFAULT_BUDGET } from "./connection-budget.js";

function waiters(b: ConnectionBudget, n: number, since: number) {
  const admitted: number[] = [];
  const list = Array.from({ length: n }, (_, i) => ({ since, admit: () => admitted.push(i) }));
  for (const w of list) b.request(w, since);
  return { admitted, list };
}

describe("ConnectionBudget", () => {
  it("admits up to the budget, queues the rest in order, and admits one per release", () => {
    const b = new ConnectionBudget({ budget: 3, reserve: 0, reserveAfterMs: 1000 });
    const { admitted } = waiters(b, 5, 0);
    expect(admitted).toEqual([0, 1, 2]);
    expect([b.held, b.waiting]).toEqual([3, 2]);
    b.release(10);
    expect(admitted).toEqual([0, 1, 2, 3]);
    b.release(20);
    b.release(30);
    expect(admitted).toEqual([0, 1, 2, 3, 4]);
    expect([b.held, b.waiting, b.peak]).toEqual([2, 0, 3]);
  });

  it("lets a waiter that gave up leave the queue without taking a slot", () => {
    const b = new ConnectionBudget({ budget: 1, reserve: 0, reserveAfterMs: 0 });
    const { admitted, list } = waiters(b, 3, 0);
    b.cancel(list[1]!);
    b.release(1);
    expect(admitted).toEqual([0, 2]);
    expect(b.held).toBe(1);
  });

  it("opens the reserve only to waiters that waited long enough, and never past budget + reserve", () => {
    const b = new ConnectionBudget({ budget: 2, reserve: 1, reserveAfterMs: 1000 });
    const { admitted } = waiters(b, 5, 0);
    expect(admitted).toEqual([0, 1]);
    b.pump(999);
    expect(admitted).toEqual([0, 1]);
    expect(b.nextReserveAt()).toBe(1000);
    b.pump(1000);
    expect(admitted).toEqual([0, 1, 2]);
    b.pump(5000);
    expect(admitted).toEqual([0, 1, 2]);
    expect(b.peak).toBe(3);
    b.release(5001);
    expect(admitted).toEqual([0, 1, 2, 3]);
  });

  it("reads its settings from the environment and refuses nonsense", () => {
    expect(budgetFromEnv({})).toEqual(DEFAULT_BUDGET);
    expect(DEFAULT_BUDGET.budget + DEFAULT_BUDGET.reserve).toBeLessThan(100);
    expect(budgetFromEnv({ PG_PROXY_BUDGET: "8", PG_PROXY_RESERVE: "0" })).toMatchObject({ budget: 8, reserve: 0 });
    expect(() => budgetFromEnv({ PG_PROXY_BUDGET: "0" })).toThrow(/PG_PROXY_BUDGET/);
    expect(() => budgetFromEnv({ PG_PROXY_RESERVE: "x" })).toThrow(/PG_PROXY_RESERVE/);
    expect(() => new ConnectionBudget({ budget: 1.5, reserve: 0, reserveAfterMs: 0 })).toThrow();
  });
});
