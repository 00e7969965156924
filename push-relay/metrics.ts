// Prometheus metrics, one registry per relay so several relays in one process (tests) stay apart.
import client from "prom-client";

export type BatchOutcome = "accepted" | "duplicate" | "invalid" | "too_large" | "unauthorized" | "unavailable";

export interface RelayMetrics {
  registry: client.Registry;
  sent: client.Counter<"provider">;
  recorded: client.Counter<"provider">;
  failed: client.Counter<"provider" | "reason">;
  retried: client.Counter<"provider" | "reason">;
  tokensRetired: client.Counter<"provider" | "reason">;
  configFaults: client.Counter<"provider" | "reason">;
  providerPaused: client.Gauge<"provider">;
  providerLatency: client.Histogram<"provider">;
  batches: client.Counter<"outcome">;
  pending: client.Gauge;
}

/** `countPending` is asked at each scrape; when it fails the gauge keeps its last value. */
export function createMetrics(countPending?: () => Promise<number>): RelayMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "push_relay_" });
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    sent: counter("push_sent_total", "Notifications a live provider accepted, per device", ["provider"]),
    recorded: counter(
      "push_recorded_total",
      "Notifications a record-only provider (no credentials) logged instead of sending",
      ["provider"],
    ),
    failed: counter(
      "push_failed_total",
      "Device attempts given up (refused, retries spent) and notifications with no active device (provider none)",
      ["provider", "reason"],
    ),
    retried: counter("push_retried_total", "Device attempts scheduled for a retry", ["provider", "reason"]),
    tokensRetired: counter("push_tokens_retired_total", "Device tokens retired on the provider's word", [
      "provider",
      "reason",
    ]),
    configFaults: counter(
      "push_config_faults_total",
      "Answers that blame our configuration (topic, sender id, credentials): the provider is paused",
      ["provider", "reason"],
    ),
    providerPaused: new client.Gauge({
      name: "push_provider_paused",
      help: "1 while a provider is paused after a configuration fault",
      labelNames: ["provider"],
      registers: [registry],
    }),
    providerLatency: new client.Histogram({
      name: "push_provider_latency_seconds",
      help: "Time a provider took to answer one device attempt",
      labelNames: ["provider"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    batches: counter("push_batches_total", "Batches from the rooms, by outcome", ["outcome"]),
    pending: new client.Gauge({
      name: "push_pending",
      help: "Notifications waiting to be sent (due now or scheduled for a retry)",
      registers: [registry],
      async collect() {
        if (!countPending) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          // a scrape must not hang on a database that does not answer
          const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("late")), 1000)));
          this.set(await Promise.race([countPending(), late]));
        } catch {
          /* the store is down: /readyz says so; keep the last value */
        } finally {
          clearTimeout(timer);
        }
      },
    }),
  };
}
