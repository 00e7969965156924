// Configuration from the environment: defaults, and refusals with messages that name the variable.
import { describe, expect, it } from "vitest";
import { compactionWindow, schemaStatements } from "./cassandra-schema.js";
import { configFromEnv, DEV_SINK_SECRET, parseReplication } from "./config.js";

const secret = "s".repeat(32);

describe("cassandra-sink config", () => {
  it("defaults to the SQLite archive under .data on 127.0.0.1:8790 with 6-month retention", () => {
    const c = configFromEnv({ SINK_SECRET: secret }, "/repo");
    expect(c).toEqual({
      host: "127.0.0.1",
      port: 8790,
      secret,
      retentionSeconds: 183 * 86_400,
      store: { kind: "sqlite", path: "/repo/.data/archive.sqlite", purgeIntervalMs: 60_000 },
    });
  });

  it("selects Cassandra with contact points, LOCAL_QUORUM by default", () => {
    const c = configFromEnv({
      SINK_SECRET: secret,
      CASSANDRA_CONTACT_POINTS: "10.0.0.1, 10.0.0.2:9043",
      CASSANDRA_LOCAL_DC: "eu1",
      CASSANDRA_REPLICATION: "eu1:3,us1:3",
    });
    expect(c.store).toMatchObject({
      kind: "cassandra",
      contactPoints: ["10.0.0.1", "10.0.0.2:9043"],
      localDataCenter: "eu1",
      keyspace: "chat_archive",
      consistency: "LOCAL_QUORUM",
      replication: { class: "NetworkTopologyStrategy", dcs: { eu1: 3, us1: 3 } },
      bucketSize: 5000,
      writeConcurrency: 64,
      migrateOnStart: true,
    });
  });

  it("requires a real secret unless SINK_DEV=1, and then only on loopback", () => {
    expect(() => configFromEnv({})).toThrow(/SINK_SECRET is required/);
    expect(() => configFromEnv({ SINK_SECRET: "short" })).toThrow(/at least 16/);
    expect(() => configFromEnv({ SINK_SECRET: DEV_SINK_SECRET })).toThrow(/development default/);
    expect(configFromEnv({ SINK_DEV: "1" }).secret).toBe(DEV_SINK_SECRET);
    expect(() => configFromEnv({ SINK_DEV: "1", SINK_HOST: "0.0.0.0" })).toThrow(/loopback/);
    expect(configFromEnv({ SINK_DEV: "1", SINK_HOST: "0.0.0.0", SINK_SECRET: secret }).host).toBe("0.0.0.0");
  });

  it("refuses malformed values by name", () => {
    const base = { SINK_SECRET: secret, CASSANDRA_CONTACT_POINTS: "127.0.0.1", CASSANDRA_LOCAL_DC: "dc1" };
    expect(() => configFromEnv({ ...base, CASSANDRA_LOCAL_DC: "" })).toThrow(/CASSANDRA_LOCAL_DC/);
    expect(() => configFromEnv({ ...base, CASSANDRA_KEYSPACE: "x; DROP KEYSPACE y" })).toThrow(/CASSANDRA_KEYSPACE/);
    expect(() => configFromEnv({ ...base, CASSANDRA_CONSISTENCY: "SOMETIMES" })).toThrow(/CASSANDRA_CONSISTENCY/);
    expect(() => configFromEnv({ ...base, CASSANDRA_REPLICATION: "dc1:3,dc1:2" })).toThrow(/twice/);
    expect(() => configFromEnv({ ...base, CASSANDRA_REPLICATION: "dc1:'3'" })).toThrow(/CASSANDRA_REPLICATION/);
    expect(() => configFromEnv({ ...base, ARCHIVE_RETENTION_SECONDS: "6 months" })).toThrow(
      /ARCHIVE_RETENTION_SECONDS/,
    );
    expect(() => configFromEnv({ ...base, ARCHIVE_RETENTION_SECONDS: "0" })).toThrow(/ARCHIVE_RETENTION_SECONDS/);
    expect(() => configFromEnv({ ...base, SINK_PORT: "70000" })).toThrow(
      'SINK_PORT must be a whole number from 0 to 65535, got "70000"',
    );
    expect(configFromEnv({ ...base, CASSANDRA_CONSISTENCY: "local_one" }).store).toMatchObject({
      consistency: "LOCAL_ONE",
    });
  });

  it("writes the replication and TTL options it was given into the schema", () => {
    expect(parseReplication("SimpleStrategy:1")).toEqual({ class: "SimpleStrategy", replication_factor: 1 });
    const [ks, , messages] = schemaStatements({
      keyspace: "k",
      replication: parseReplication("dc1:3,dc2:2"),
      retentionSeconds: 15_552_000,
    });
    expect(ks).toContain("{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}");
    expect(messages).toContain("default_time_to_live = 15552000");
    expect(messages).toContain("'compaction_window_unit': 'DAYS', 'compaction_window_size': 6");
    expect(compactionWindow(86_400)).toEqual({ unit: "HOURS", size: 1 });
    expect(compactionWindow(30 * 86_400)).toEqual({ unit: "DAYS", size: 1 });
  });
});
