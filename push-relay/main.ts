// Entry point:  npx tsx push-relay/main.ts
// Configuration from the environment (README.md). The providers come from the same environment:
// without a provider's credentials it runs record-only.
import { configFromEnv, ConfigError, startRelay } from "./index.js";
import { providersFromEnv } from "./providers/index.js";

const log = (line: string) => console.log(`[push-relay] ${line}`);

async function main() {
  const config = configFromEnv();
  const providers = providersFromEnv(process.env, log);
  const modes = Object.values(providers)
    .map((p) => `${p.name} ${p.live ? "live" : "record-only"}`)
    .join(", ");
  log(
    `starting; providers: ${modes}; retention ${config.retentionDays} days; ` +
      (config.dispatch.enabled
        ? `dispatching ${config.dispatch.claimBatch} a round`
        : "intake only (PUSH_DISPATCH=off)"),
  );
  const relay = await startRelay({ ...config, providers, log });
  log(`listening on ${relay.url}`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests and the dispatch round in flight, then closing`);
    relay
      .stop()
      .then(() => Promise.all(Object.values(providers).map((p) => p.close())))
      .then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  console.error(
    `[push-relay] ${err instanceof ConfigError ? `configuration: ${err.message}` : ((err as Error).stack ?? err)}`,
  );
  process.exit(1);
});
