import { describe, expect, it } from "vitest";
import { locationHintFor } from "./location.js";

describe("locationHintFor", () => {
  it("maps the continent (and the side of North America) to a location hint", () => {
    expect(locationHintFor({ continent: "EU" })).toBe("weur");
    expect(locationHintFor({ continent: "NA", longitude: "-122.4" })).toBe("wnam");
    expect(locationHintFor({ continent: "NA", longitude: "-74.0" })).toBe("enam");
    expect(locationHintFor({ continent: "AS" })).toBe("apac");
  });
  it("gives no hint when the request carries no location (local runs)", () => {
    expect(locationHintFor(undefined)).toBeUndefined();
    expect(locationHintFor({})).toBeUndefined();
  });
});
