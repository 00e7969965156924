import { describe, expect, it } from "vitest";
import { RegisterBody } from "./http.js";
import { nameProblem } from "./text.js";

describe("protocol/text nameProblem", () => {
  it("accepts ordinary names in any script, with emoji and inner joiners", () => {
    for (const s of ["Alice", "Zoë Ångström", "محمد", "שלום", "李小龙", "👩‍👩‍👧 family", "a\u200db"]) {
      expect(nameProblem(s), s).toBeNull();
    }
  });

  it("refuses bidi overrides and isolates", () => {
    for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(nameProblem(`evil${String.fromCodePoint(cp)}gpj.exe`), cp.toString(16)).toMatch(/bidirectional/);
    }
  });

  it("refuses C0 and C1 controls", () => {
    for (const cp of [0x00, 0x1b, 0x7f, 0x80, 0x85, 0x9b, 0x9f]) {
      expect(nameProblem(`a${String.fromCodePoint(cp)}b`), cp.toString(16)).toMatch(/control/);
    }
  });

  it("refuses names made only of invisible characters", () => {
    for (const s of [
      "\u200b",
      "\u200b\u200c\u200d",
      "\u00ad",
      "\u2060\ufeff",
      "\u3164",
      "\u115f\u1160",
      "\u2800",
      "\u0301",
      " \u200b ",
    ]) {
      expect(nameProblem(s), JSON.stringify(s)).toMatch(/visible/);
    }
  });

  it("is what the request schemas apply to display names", () => {
    const body = { handle: "alice", password: "correct horse" };
    expect(RegisterBody.safeParse({ ...body, display_name: "Alice" }).success).toBe(true);
    expect(RegisterBody.safeParse({ ...body, display_name: "x\u202eyz" }).success).toBe(false);
    expect(RegisterBody.safeParse({ ...body, display_name: "x\u0085y" }).success).toBe(false);
    expect(RegisterBody.safeParse({ ...body, display_name: "\u200b\u200b" }).success).toBe(false);
  });
});
