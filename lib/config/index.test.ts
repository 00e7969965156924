import { describe, expect, it } from "vitest";
import { ConfigError, decimalNumber, wholeNumber } from "./index.js";

describe("numbers from the environment", () => {
  const rule = { default: 30, min: 1, max: 1000 };

  it("gives the default when the variable is unset or empty", () => {
    expect(wholeNumber({}, "N", rule)).toBe(30);
    expect(wholeNumber({ N: "" }, "N", rule)).toBe(30);
    expect(decimalNumber({ N: undefined }, "N", rule)).toBe(30);
  });

  it("reads what is set, as a string or as a number", () => {
    expect(wholeNumber({ N: "1000" }, "N", rule)).toBe(1000);
    expect(wholeNumber({ N: 7 }, "N", rule)).toBe(7);
    expect(decimalNumber({ N: "0.25" }, "N", { default: 1, min: 0.001 })).toBe(0.25);
    expect(decimalNumber({ N: ".5" }, "N", { default: 1 })).toBe(0.5);
    expect(decimalNumber({ N: "2" }, "N", { default: 1 })).toBe(2);
  });

  it("refuses a bad value with the variable, the value and what is allowed", () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refusal(() => wholeNumber({ SEND_BURST: "abc" }, "SEND_BURST", rule))).toBe(
      'SEND_BURST must be a whole number from 1 to 1000, got "abc"',
    );
    expect(refusal(() => wholeNumber({ SEND_BURST: "-3" }, "SEND_BURST", rule))).toMatch(/SEND_BURST.*"-3"/);
    expect(refusal(() => wholeNumber({ N: "0" }, "N", rule))).toMatch(/from 1 to 1000/);
    expect(refusal(() => wholeNumber({ N: "1001" }, "N", rule))).toMatch(/from 1 to 1000, got "1001"/);
    expect(refusal(() => wholeNumber({ N: "2.5" }, "N", rule))).toMatch(/whole number/);
    expect(refusal(() => wholeNumber({ N: 2.5 }, "N", rule))).toMatch(/got 2.5/);
    expect(refusal(() => decimalNumber({ RATE: "0" }, "RATE", { default: 10, min: 0.001 }))).toBe(
      'RATE must be a number of at least 0.001, got "0"',
    );
    for (const typo of ["1e3", "0x10", " 5", "5 ", "+5", "NaN", "Infinity", "1,5", "5s"])
      expect(() => decimalNumber({ N: typo }, "N", { default: 1 }), typo).toThrow(ConfigError);
    expect(() => decimalNumber({ N: true }, "N", { default: 1 })).toThrow(/got true/);
  });
});
