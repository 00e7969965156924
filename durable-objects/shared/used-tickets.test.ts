import { describe, expect, it } from "vitest";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { USED_TICKETS_TABLE, recordTicketUse } from "./used-tickets.js";

describe("used tickets", () => {
  it("accepts a ticket once, and forgets expired ones on the next use", () => {
    const sql = memorySql();
    sql.exec(USED_TICKETS_TABLE);
    expect(recordTicketUse(sql, "t1", 30_000, 0)).toBe(true);
    expect(recordTicketUse(sql, "t1", 30_000, 1000)).toBe(false);
    expect(recordTicketUse(sql, "t2", 60_000, 30_001)).toBe(true);
    expect(sql.exec("SELECT id FROM used_tickets").toArray()).toEqual([{ id: "t2" }]);
  });
});
