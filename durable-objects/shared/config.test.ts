import { describe, expect, it } from "vitest";
import { ConfigError } from "../../lib/config/index.js";
import { REALTIME_DEFAULTS, pushRelayConfig, realtimeConfig, sinkConfig } from "./config.js";

const DAY = 86_400_000;

describe("realtime config", () => {
  it("runs on the defaults when nothing is set, and when a variable is empty", () => {
    expect(realtimeConfig({})).toEqual(REALTIME_DEFAULTS);
    expect(realtimeConfig({ SEND_BURST: "", RETENTION_DAYS: "" })).toEqual(REALTIME_DEFAULTS);
    expect(REALTIME_DEFAULTS).toMatchObject({
      sendPerSecond: 10,
      sendBurst: 30,
      silentSocketMs: 60_000,
      retentionMs: 183 * DAY,
      dedupeMs: 7 * DAY,
      archiveBatchMaxItems: 200,
      archiveFlushMs: 10_000,
      archiveRetryMaxMs: 300_000,
      // a day of push rows: an outage overnight loses no notification
      pushOutboxTtlMs: DAY,
      pushRetryMaxMs: 60_000,
    });
  });

  it("reads what is set, in the unit of the variable's name", () => {
    const c = realtimeConfig({
      SEND_RATE_PER_SECOND: "0.5",
      SEND_BURST: "5",
      SILENT_SOCKET_SECONDS: "2",
      RETENTION_DAYS: String(2 / 86_400),
      DEDUPE_DAYS: "10",
      ARCHIVE_BATCH_MAX_ITEMS: "1000",
      ARCHIVE_FLUSH_MS: "250",
    });
    expect(c).toMatchObject({
      sendPerSecond: 0.5,
      sendBurst: 5,
      silentSocketMs: 2000,
      dedupeMs: 10 * DAY,
      archiveBatchMaxItems: 1000,
      archiveFlushMs: 250,
    });
    expect(c.retentionMs).toBeCloseTo(2000);
  });

  it("refuses a bad value instead of falling back to the default", () => {
    const bad: Record<string, string> = {
      SEND_BURST: "abc",
      SEND_RATE_PER_SECOND: "0",
      TYPING_INTERVAL_MS: "-1",
      SILENT_SOCKET_SECONDS: "60s",
      RETENTION_DAYS: "six months",
      HOT_TAIL_MAX_MESSAGES: "2.5",
      // below the protocol's promise, where it used to be raised to 7 without a word
      DEDUPE_DAYS: "3",
      // above what the sink accepts, where it used to be cut to 1000 without a word
      ARCHIVE_BATCH_MAX_ITEMS: "5000",
      ARCHIVE_FLUSH_MS: "5",
    };
    for (const [name, value] of Object.entries(bad))
      expect(() => realtimeConfig({ [name]: value }), name).toThrow(ConfigError);
    expect(() => realtimeConfig({ SEND_BURST: "-3" })).toThrow(
      'SEND_BURST must be a whole number of at least 1, got "-3"',
    );
    expect(() => realtimeConfig({ ARCHIVE_BATCH_MAX_ITEMS: "5000" })).toThrow(
      'ARCHIVE_BATCH_MAX_ITEMS must be a whole number from 1 to 1000, got "5000"',
    );
  });
});

describe("sink config", () => {
  it("is null without SINK_URL, and takes an https sink anywhere and an http one on this machine", () => {
    expect(sinkConfig({})).toBeNull();
    expect(sinkConfig({ SINK_URL: "" })).toBeNull();
    expect(sinkConfig({ SINK_URL: "https://sink.example.com/", SINK_SECRET: "s3cret" })).toEqual({
      url: "https://sink.example.com",
      secret: "s3cret",
    });
    for (const host of ["127.0.0.1:8790", "localhost:8790", "[::1]:8790", "127.1.2.3"])
      expect(sinkConfig({ SINK_URL: `http://${host}`, SINK_SECRET: "s" })?.url).toBe(`http://${host}`);
  });

  it("refuses to archive with an empty secret or over plain http to another machine", () => {
    expect(() => sinkConfig({ SINK_URL: "http://127.0.0.1:8790" })).toThrow(ConfigError);
    expect(() => sinkConfig({ SINK_URL: "http://127.0.0.1:8790", SINK_SECRET: "  " })).toThrow(
      /SINK_SECRET must be set/,
    );
    expect(() => sinkConfig({ SINK_URL: "http://10.0.0.5:8790", SINK_SECRET: "s" })).toThrow(/only on this machine/);
    expect(() => sinkConfig({ SINK_URL: "http://sink.internal", SINK_SECRET: "s" })).toThrow(ConfigError);
    expect(() => sinkConfig({ SINK_URL: "http://127.0.0.1.evil.example", SINK_SECRET: "s" })).toThrow(ConfigError);
    expect(() => sinkConfig({ SINK_URL: "ftp://127.0.0.1", SINK_SECRET: "s" })).toThrow(/http\(s\) URL/);
    expect(() => sinkConfig({ SINK_URL: "not a url", SINK_SECRET: "s" })).toThrow(ConfigError);
  });
});

describe("push relay config", () => {
  it("is null without PUSH_RELAY_URL, and follows the sink's rule for the URL and the secret", () => {
    expect(pushRelayConfig({})).toBeNull();
    expect(pushRelayConfig({ PUSH_RELAY_URL: "" })).toBeNull();
    expect(pushRelayConfig({ PUSH_RELAY_URL: "https://push.example.com/", PUSH_RELAY_SECRET: "s3cret" })).toEqual({
      url: "https://push.example.com",
      secret: "s3cret",
    });
    expect(pushRelayConfig({ PUSH_RELAY_URL: "http://127.0.0.1:8791", PUSH_RELAY_SECRET: "s" })?.url).toBe(
      "http://127.0.0.1:8791",
    );
    expect(() => pushRelayConfig({ PUSH_RELAY_URL: "http://127.0.0.1:8791" })).toThrow(/PUSH_RELAY_SECRET must be set/);
    expect(() => pushRelayConfig({ PUSH_RELAY_URL: "http://10.0.0.5:8791", PUSH_RELAY_SECRET: "s" })).toThrow(
      /PUSH_RELAY_URL may use plain http: only on this machine/,
    );
    expect(() => pushRelayConfig({ PUSH_RELAY_URL: "not a url", PUSH_RELAY_SECRET: "s" })).toThrow(ConfigError);
  });
});
