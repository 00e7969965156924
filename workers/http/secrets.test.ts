// What the edge says about its database when a call fails: nothing that came in a request (a
// password hash on register) reaches the log, and nothing the driver says reaches a client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, db, uniqueHandle } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { eventually } from "../../test/support/sockets.js";

let output = "";
let edge: Edge;
beforeAll(async () => {
  edge = await startEdge({ ...testEdgeOptions(), onOutput: (text) => void (output += text) });
  // registrations of "leak_…" handles fail inside the register transaction, after the hash is bound
  await db().query(`
    create or replace function refuse_leak_accounts() returns trigger language plpgsql as $$
    begin
      if new.identifier like 'leak\\_%' then raise exception 'refused by the test'; end if;
      return new;
    end $$`);
  await db().query(`
    create or replace trigger refuse_leak_accounts before insert on auth_accounts
    for each row execute function refuse_leak_accounts()`);
});
afterAll(async () => {
  await edge?.close();
});

describe("secrets in errors", () => {
  it("logs a failed register's query without its parameters (the password hash)", async () => {
    const password = "a very secret passphrase";
    const handle = uniqueHandle("leak");
    const res = await call(edge, "POST", "/v1/auth/register", { body: { handle, password, display_name: "Leak" } });
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).not.toContain("scrypt");
    await eventually(async () => output.includes("database call failed"));
    expect(output).toContain('insert into "auth_accounts"');
    expect(output).toContain("P0001"); // the SQLSTATE of a raised exception: the operator still learns why
    expect(output).not.toContain("scrypt$");
    expect(output).not.toContain(password);
    expect(output).not.toContain(handle);
  });

  it("answers /readyz without the driver's message", async () => {
    const secretName = `no_such_db_${Date.now().toString(36)}`;
    const broken = await startEdge({
      ...testEdgeOptions({ DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${secretName}` }),
      onOutput: (text) => void (output += text),
    });
    try {
      const res = await call(broken, "GET", "/v1/readyz");
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({ code: "unavailable", message: "database unreachable" });
      expect(JSON.stringify(res.body)).not.toContain(secretName);
      // the operator's log has it
      await eventually(async () => output.includes(secretName));
    } finally {
      await broken.close();
    }
  });
});
