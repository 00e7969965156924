// Prometheus metrics, one registry per sink so several sinks in one process (tests) stay apart.
import client from "prom-client";

export type ErrorKind =
  "unauthorized" | "invalid" | "too_large" | "not_found" | "store_write" | "store_read" | "not_ready" | "internal";

export interface SinkMetrics {
  registry: client.Registry;
  batchItems: client.Histogram<"kind">;
  writeSeconds: client.Histogram<"store">;
  readSeconds: client.Histogram<"store" | "op">;
  itemsWritten: client.Counter<"kind">;
  expired: client.Counter;
  errors: client.Counter<"kind">;
}

export function createMetrics(): SinkMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "archive_sink_" });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    batchItems: new client.Histogram({
      name: "archive_sink_batch_items",
      help: "Items per accepted batch, by kind (messages, read_offsets)",
      labelNames: ["kind"],
      buckets: [0, 1, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    writeSeconds: new client.Histogram({
      name: "archive_sink_batch_write_seconds",
      help: "Time to store one batch (all its statements acknowledged)",
      labelNames: ["store"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    readSeconds: new client.Histogram({
      name: "archive_sink_store_read_seconds",
      help: "Time to read a history page or a room's read offsets from the store",
      labelNames: ["store", "op"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    itemsWritten: new client.Counter({
      name: "archive_sink_items_written_total",
      help: "Items stored, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    expired: new client.Counter({
      name: "archive_sink_messages_expired_total",
      help: "Messages that arrived already past retention and were not written",
      registers: [registry],
    }),
    errors: new client.Counter({
      name: "archive_sink_errors_total",
      help: "Requests refused or failed, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
  };
}
