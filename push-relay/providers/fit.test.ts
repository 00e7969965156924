import { describe, expect, it } from "vitest";
import { fitAlert, utf8Bytes } from "./fit.js";

const encode = (title: string, body: string) => JSON.stringify({ alert: { title, body }, room_id: "r" });

describe("fitAlert", () => {
  it("leaves what fits alone", () => {
    expect(fitAlert("t", "short", 100, encode)).toEqual({ title: "t", body: "short", encoded: encode("t", "short") });
  });

  it("cuts the body by code points to the longest prefix that fits, marked with …", () => {
    const body = "😀".repeat(100);
    const fitted = fitAlert("t", body, 200, encode)!;
    expect(utf8Bytes(fitted.encoded)).toBeLessThanOrEqual(200);
    expect(utf8Bytes(encode("t", "😀".repeat(Array.from(fitted.body).length) + "…"))).toBeGreaterThan(200);
    expect(fitted.body).toMatch(/^(😀)+…$/u);
    expect(JSON.parse(fitted.encoded)).toEqual({ alert: { title: "t", body: fitted.body }, room_id: "r" });
  });

  it("counts JSON escapes: quotes and control characters take more than one byte", () => {
    const fitted = fitAlert("t", '"\n'.repeat(100), 120, encode)!;
    expect(utf8Bytes(fitted.encoded)).toBeLessThanOrEqual(120);
    expect(JSON.parse(fitted.encoded).alert.body).toBe(fitted.body);
  });

  it("cuts the title when even an empty body does not fit, and gives up when nothing does", () => {
    const title = "T".repeat(300);
    const fitted = fitAlert(title, "body", 100, encode)!;
    expect(fitted.body).toBe("");
    expect(fitted.title).toMatch(/^T+…$/);
    expect(utf8Bytes(fitted.encoded)).toBeLessThanOrEqual(100);
    expect(fitAlert("t", "b", 10, encode)).toBeUndefined();
  });
});
