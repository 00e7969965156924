// Entry point:  npx tsx cassandra-sink/main.ts [serve|migrate]
//   serve (default)  start the HTTP service (configuration from the environment, see README.md)
//   migrate          apply the Cassandra schema and exit (a deploy step, before rolling out sinks)
import { configFromEnv, ConfigError, createStore, startSink, type RunningSink } from "./index.js";

const log = (line: string) => console.log(`[sink] ${line}`);

async function main(command: string) {
  const config = configFromEnv();
  if (command === "migrate") {
    if (config.store.kind !== "cassandra") {
      log("no CASSANDRA_CONTACT_POINTS: the SQLite archive applies its schema when it opens; nothing to migrate");
      return;
    }
    const store = createStore({ ...config.store, migrateOnStart: false }, config.retentionSeconds, log);
    try {
      await store.init();
      await (store as import("./cassandra-store.js").CassandraArchiveStore).migrate();
      log(`schema of keyspace ${config.store.keyspace} is up to date`);
    } finally {
      await store.close();
    }
    return;
  }
  if (command !== "serve") throw new ConfigError(`unknown command ${JSON.stringify(command)} (serve | migrate)`);

  const where =
    config.store.kind === "cassandra"
      ? `Cassandra ${config.store.contactPoints.join(",")} (dc ${config.store.localDataCenter}, keyspace ${config.store.keyspace}, ${config.store.consistency})`
      : `SQLite ${config.store.path}`;
  log(`starting; archive in ${where}; retention ${config.retentionSeconds} s`);
  const sink: RunningSink = await startSink({ ...config, log });
  log(`listening on ${sink.url}`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests in flight, then closing the store`);
    sink.stop().then(
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

main(process.argv[2] ?? "serve").catch((err) => {
  console.error(
    `[sink] ${err instanceof ConfigError ? `configuration: ${err.message}` : ((err as Error).stack ?? err)}`,
  );
  process.exit(1);
});
