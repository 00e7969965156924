import { describe, expect, it } from "vitest";
import { PushOutcome } from "../db/index.js";
import { actionFor, decide, logCode, reasonLabel } from "./outcomes.js";

const rule = { baseMs: 1000, quotaBaseMs: 6000, capMs: 60_000, maxTries: 3 };
const half = () => 0.5;

describe("what a provider's answer does", () => {
  it("maps each outcome to one action and its log code", () => {
    const cases = [
      [{ kind: "sent", status: 200 }, "delivered", PushOutcome.sent],
      [{ kind: "recorded" }, "delivered", PushOutcome.recorded],
      [{ kind: "retire", status: 410, reason: "Unregistered" }, "retire", PushOutcome.token_retired],
      [{ kind: "config", status: 400, reason: "TopicDisallowed" }, "pause", PushOutcome.config_fault],
      [{ kind: "failed", status: 400, reason: "PayloadTooLarge" }, "failed", PushOutcome.failed],
      [{ kind: "retry", status: 503, reason: "ServiceUnavailable" }, "retry", PushOutcome.retry],
    ] as const;
    for (const [outcome, kind, code] of cases) {
      const a = actionFor(outcome, 1, rule, half);
      expect(a.kind, outcome.kind).toBe(kind);
      expect(logCode(a), outcome.kind).toBe(code);
    }
  });

  it("retries with backoff from the base (quota: longer), honours Retry-After, and gives up at the last try", () => {
    expect(actionFor({ kind: "retry", status: 503, reason: "x" }, 1, rule, half)).toEqual({
      kind: "retry",
      delayMs: 1000,
      reason: "x",
    });
    expect(actionFor({ kind: "retry", status: 429, reason: "q", quota: true }, 2, rule, half)).toMatchObject({
      delayMs: 12_000,
    });
    expect(actionFor({ kind: "retry", status: 429, reason: "q", retry_after_ms: 45_000 }, 1, rule, half)).toMatchObject(
      {
        delayMs: 45_000,
      },
    );
    const last = actionFor({ kind: "retry", status: 500, reason: "InternalServerError" }, 3, rule, half);
    expect(last).toEqual({ kind: "give_up", reason: "InternalServerError" });
    expect(logCode(last)).toBe(PushOutcome.failed);
  });

  it("keeps a notification pending while a device waits, else sent if anyone took it, else failed with why", () => {
    const retry = { kind: "retry", delayMs: 5000, reason: "r" } as const;
    const later = { kind: "retry", delayMs: 9000, reason: "r" } as const;
    const sent = { kind: "delivered", recorded: false } as const;
    expect(
      decide({ actions: [retry, later, sent], pauseWaitsMs: [100], deliveredBefore: false, fallbackReason: "-" }),
    ).toEqual({ status: "pending", delayMs: 9000, failedReason: null });
    expect(
      decide({ actions: [sent], pauseWaitsMs: [3000, 2000], deliveredBefore: false, fallbackReason: "-" }),
    ).toEqual({
      status: "pending",
      delayMs: 2000,
      failedReason: null,
    });
    expect(
      decide({
        actions: [sent, { kind: "give_up", reason: "503" }],
        pauseWaitsMs: [],
        deliveredBefore: false,
        fallbackReason: "-",
      }).status,
    ).toBe("sent");
    expect(decide({ actions: [], pauseWaitsMs: [], deliveredBefore: true, fallbackReason: "-" }).status).toBe("sent");
    expect(
      decide({
        actions: [{ kind: "give_up", reason: "503 Unavailable" }],
        pauseWaitsMs: [],
        deliveredBefore: false,
        fallbackReason: "-",
      }),
    ).toEqual({
      status: "failed",
      delayMs: null,
      failedReason: "retries_spent: 503 Unavailable",
    });
    expect(
      decide({
        actions: [{ kind: "failed", reason: "BadTopic" }],
        pauseWaitsMs: [],
        deliveredBefore: false,
        fallbackReason: "-",
      }).failedReason,
    ).toBe("refused: BadTopic");
    expect(
      decide({ actions: [], pauseWaitsMs: [], deliveredBefore: false, fallbackReason: "nobody" }).failedReason,
    ).toBe("nobody");
  });

  it("labels metrics with the reason's code word only", () => {
    expect(reasonLabel("BadDeviceToken")).toBe("BadDeviceToken");
    expect(reasonLabel("UNREGISTERED: the token is gone")).toBe("UNREGISTERED");
    expect(reasonLabel("  ")).toBe("other");
    expect(reasonLabel("(weird) text")).toBe("other");
  });
});
