import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { describeError } from "./errors.js";

const HASH = "scrypt$14$8$1$c2FsdA$a2V5";

function pgError(fields: Record<string, string>, message: string): Error {
  return Object.assign(new Error(message), fields);
}

describe("describeError", () => {
  it("keeps a failed query's text and SQLSTATE but none of its parameters", () => {
    const err = new DrizzleQueryError(
      'insert into "auth_accounts" ("password_hash") values ($1)',
      [HASH],
      pgError(
        { code: "23505", constraint: "auth_accounts_provider_identifier_key", detail: `Key (x)=(${HASH})` },
        "duplicate key value violates unique constraint",
      ),
    );
    expect(err.message).toContain(HASH); // what the old log line printed
    const line = describeError(err);
    expect(line).not.toContain(HASH);
    expect(line).toContain('insert into "auth_accounts"');
    expect(line).toContain("SQLSTATE 23505");
    expect(line).toContain("auth_accounts_provider_identifier_key");
  });

  it("drops the message of a data exception, which quotes the value", () => {
    const err = new DrizzleQueryError(
      "select $1::uuid",
      [HASH],
      pgError({ code: "22P02" }, `invalid input syntax for type uuid: "${HASH}"`),
    );
    expect(describeError(err)).not.toContain(HASH);
    expect(describeError(err)).toContain("22P02");
  });

  it("describes a connection failure and any other error in full", () => {
    const err = new DrizzleQueryError("select 1", [], new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    expect(describeError(err)).toContain("ECONNREFUSED");
    expect(describeError(new TypeError("x is not a function"))).toContain("x is not a function");
  });
});
