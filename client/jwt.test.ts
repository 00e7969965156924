import { describe, expect, it } from "vitest";
import { tokenLifetimeMs } from "./jwt.js";
import { refreshLeadMs } from "./auth.js";

const b64url = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const jwt = (claims: object) => `${b64url({ alg: "ES256" })}.${b64url(claims)}.c2ln`;

describe("an access token's lifetime", () => {
  it("is exp - iat, whatever this device's clock says", () => {
    expect(tokenLifetimeMs(jwt({ iat: 1_000, exp: 1_900, sub: "ü-ser" }))).toBe(900_000);
  });

  it("is unknown for anything that is not a JWT with both claims", () => {
    expect(tokenLifetimeMs("opaque")).toBeNull();
    expect(tokenLifetimeMs("a.%%%.c")).toBeNull();
    expect(tokenLifetimeMs(jwt({ exp: 5 }))).toBeNull();
    expect(tokenLifetimeMs(jwt({ iat: 5, exp: 5 }))).toBeNull();
  });

  it("is refreshed a minute ahead when long-lived, a third of its life ahead when short", () => {
    expect(refreshLeadMs(900_000)).toBe(60_000);
    expect(refreshLeadMs(9_000)).toBe(3_000);
    expect(refreshLeadMs(1_000)).toBe(500);
  });
});
