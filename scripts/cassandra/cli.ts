// npx tsx scripts/cassandra/cli.ts start   runs a local Cassandra in the foreground; Ctrl-C stops it
// npx tsx scripts/cassandra/cli.ts fetch   only fetches the jars into the cache
// Env: CASSANDRA_DATA_DIR, CASSANDRA_NATIVE_PORT, CASSANDRA_STORAGE_PORT, CASSANDRA_HEAP_MB,
//      CASSANDRA_JMX_PORT, CASSANDRA_FAST=0, CASSANDRA_CACHE_DIR, CASSANDRA_JAVA (see README.md)
import { CASSANDRA_VERSION, cassandraCacheDir, ensureCassandraJars, startCassandra } from "./launcher.js";

function intEnv(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const log = (line: string) => console.log(`[cassandra] ${line}`);

async function main(cmd: string | undefined): Promise<void> {
  switch (cmd) {
    case "fetch": {
      const t = Date.now();
      const lib = await ensureCassandraJars(log);
      log(`Cassandra ${CASSANDRA_VERSION} jars ready in ${lib} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      return;
    }
    case "start": {
      const node = await startCassandra({
        dataDir: process.env.CASSANDRA_DATA_DIR || undefined,
        nativePort: intEnv("CASSANDRA_NATIVE_PORT"),
        storagePort: intEnv("CASSANDRA_STORAGE_PORT"),
        heapMb: intEnv("CASSANDRA_HEAP_MB"),
        jmxPort: intEnv("CASSANDRA_JMX_PORT"),
        fast: process.env.CASSANDRA_FAST !== "0",
        log,
      });
      console.log("");
      console.log(`Cassandra ${node.version} is up (pid ${node.pid}). Ctrl-C stops it.`);
      console.log(`  contact point:     ${node.contactPoints.join(",")}`);
      console.log(`  local data center: ${node.localDataCenter}`);
      console.log(`  data:              ${node.dataDir}`);
      console.log(`  log:               ${node.logFile}`);
      console.log(`  e.g. CASSANDRA_CONTACT_POINTS=${node.contactPoints.join(",")}`);
      let stopping = false;
      const shutdown = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log(`${sig}: stopping Cassandra (pid ${node.pid})…`);
        node.stop().then(
          () => {
            log("stopped");
            process.exit(0);
          },
          (e: unknown) => {
            console.error(e);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
      process.on("SIGHUP", () => shutdown("SIGHUP"));
      // keep running until the JVM goes away by itself too
      const timer = setInterval(() => {
        try {
          process.kill(node.pid, 0);
        } catch {
          if (!stopping) {
            console.error(`Cassandra (pid ${node.pid}) exited on its own; see ${node.logFile}`);
            process.exit(1);
          }
        }
      }, 2000);
      void timer; // the interval keeps this process alive until Ctrl-C or the JVM's exit
      return;
    }
    default:
      console.error(`usage: npx tsx scripts/cassandra/cli.ts start|fetch

  start   run a single-node Cassandra ${CASSANDRA_VERSION} in the foreground (Ctrl-C stops it)
  fetch   only fetch the jars with mvn into ${cassandraCacheDir()}/lib`);
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
