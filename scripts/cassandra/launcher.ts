// A real single-node Apache Cassandra 5.0 for integration tests and for developers by hand.
//
// Cassandra is not in Debian or npm, so its jars come from Maven Central: pom.xml beside this file
// depends on org.apache.cassandra:cassandra-all, and `mvn dependency:copy-dependencies` copies it and
// its runtime dependencies into a cache outside git. The JVM is then started in foreground mode
// with the options of Cassandra's own conf/jvm17-server.options (which is not in the jar), a
// generated minimal cassandra.yaml and logback.xml, and we wait until CQL answers.
// README.md beside this file has the how-to and the pitfalls.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import cassandra from "cassandra-driver";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../..");
const pomPath = path.join(here, "pom.xml");

/** cassandra-all version, read from pom.xml so the pom stays the single source of truth */
export const CASSANDRA_VERSION: string = (() => {
  const m = /<cassandra\.version>([^<]+)<\/cassandra\.version>/.exec(fs.readFileSync(pomPath, "utf8"));
  if (!m?.[1]) throw new Error(`no <cassandra.version> in ${pomPath}`);
  return m[1].trim();
})();

export const LOCAL_DATA_CENTER = "datacenter1"; // what SimpleSnitch reports
export const DEFAULT_DATA_DIR = path.join(repoRoot, ".data", "cassandra");

export type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[cassandra] ${line}\n`);

export interface StartOptions {
  /** data, commitlog, hints, saved caches, generated config and logs; default <repo>/.data/cassandra */
  dataDir?: string;
  /** CQL port, default 9042 */
  nativePort?: number;
  /** internode port, default 7000 (the node is its own seed on it) */
  storagePort?: number;
  /** -Xms/-Xmx in MB, default 512 */
  heapMb?: number;
  log?: Log;
  /** how long to wait for CQL to answer after spawning java, default 180 000 */
  readyTimeoutMs?: number;
  /** test-mode speed-ups: no gossip settle wait, unsafe system keyspace writes, no fsync, no shutdown announce. Default true */
  fast?: boolean;
  /** opens local JMX (for nodetool-like tools) on this port; default off */
  jmxPort?: number;
  /**
   * Let Cassandra mlockall() its memory. Off by default: as root (CAP_IPC_LOCK) the lock always
   * succeeds and pins the whole committed heap (RSS ~0.9 GB at a 512 MB heap) and costs ~1 s at start.
   * When off and running as root, java is started through util-linux's setpriv without CAP_IPC_LOCK
   * and prlimit with a small RLIMIT_MEMLOCK, so the lock fails harmlessly.
   */
  lockMemory?: boolean;
  /** extra JVM arguments, placed before the main class */
  jvmArgs?: string[];
  /** cluster_name in cassandra.yaml; changing it on an existing dataDir stops start-up. Default "edge-chat-local" */
  clusterName?: string;
}

export interface RunningCassandra {
  /** "127.0.0.1:<port>", usable as cassandra-driver contactPoints as they are */
  contactPoints: string[];
  localDataCenter: string;
  port: number;
  pid: number;
  /** release_version the node reported */
  version: string;
  dataDir: string;
  logFile: string;
  /** SIGTERM, wait for exit, SIGKILL after 20 s. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// jars

/** ${CASSANDRA_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/edge-chat}/cassandra-<version> */
export function cassandraCacheDir(): string {
  const base =
    process.env.CASSANDRA_CACHE_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "edge-chat");
  return path.join(path.resolve(base), `cassandra-${CASSANDRA_VERSION}`);
}

interface Marker {
  version: string;
  jars: number;
  fetchedAt: string;
  fetchMs: number;
}

function readMarker(dir: string): Marker | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, "lib.complete"), "utf8")) as Marker;
    const lib = path.join(dir, "lib");
    if (m.version !== CASSANDRA_VERSION) return undefined;
    const jars = fs.readdirSync(lib).filter((f) => f.endsWith(".jar"));
    if (jars.length !== m.jars) return undefined;
    if (!jars.includes(`cassandra-all-${CASSANDRA_VERSION}.jar`) || !jars.some((f) => /^jamm-.*\.jar$/.test(f)))
      return undefined;
    return m;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Makes sure Cassandra's jars are in the cache (fetching them with mvn the first time) and returns
 * the lib directory. Several processes may call it at once: one fetches, the others wait.
 */
export async function ensureCassandraJars(log: Log = defaultLog): Promise<string> {
  const dir = cassandraCacheDir();
  const lib = path.join(dir, "lib");
  if (readMarker(dir)) return lib;
  fs.mkdirSync(dir, { recursive: true });

  // a lock directory holding the fetching process's pid
  const lock = path.join(dir, "fetch.lock");
  const waitUntil = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = 0;
    let lockAgeMs = 0;
    try {
      lockAgeMs = Date.now() - fs.statSync(lock).mtimeMs;
      owner = Number(fs.readFileSync(path.join(lock, "pid"), "utf8")) || 0;
    } catch {
      // just released, or its owner has not written its pid yet
    }
    if ((owner && !pidAlive(owner)) || (!owner && lockAgeMs > 60_000)) {
      log(`removing stale ${lock}`);
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (!announced) log(`waiting for another process (pid ${owner || "?"}) fetching Cassandra jars into ${dir}`);
    announced = true;
    if (Date.now() > waitUntil)
      throw new Error(`gave up waiting for ${lock} (held by pid ${owner}); remove it if stale`);
    await sleep(1000);
    if (readMarker(dir)) return lib;
  }

  try {
    if (readMarker(dir)) return lib; // fetched by the process we waited for
    const tmp = path.join(dir, `lib.tmp-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    const args = [
      "-q",
      "-B",
      "-Dstyle.color=never",
      "-f",
      pomPath,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${tmp}`,
      "-DincludeScope=runtime",
    ];
    log(`fetching Apache Cassandra ${CASSANDRA_VERSION} jars from Maven Central: mvn ${args.join(" ")}`);
    log(`(the first fetch downloads ~100 MB into ~/.m2 and takes a minute or more; later starts reuse ${lib})`);
    const started = Date.now();
    const tail: string[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const mvn = spawn("mvn", args, { cwd: here, stdio: ["ignore", "pipe", "pipe"] });
      mvn.on("error", (e) =>
        reject(
          (e as NodeJS.ErrnoException).code === "ENOENT"
            ? new Error(
                "mvn (Apache Maven) is not on PATH; it is needed once to fetch Cassandra's jars (apt-get install maven)",
              )
            : e,
        ),
      );
      for (const s of [mvn.stdout, mvn.stderr]) {
        readline.createInterface({ input: s }).on("line", (raw) => {
          const l = raw.replace(/\x1b\[[0-9;]*m/g, "").trimEnd(); // -q still prints colour resets
          if (!l) return;
          tail.push(l);
          if (tail.length > 40) tail.shift();
          log(`mvn: ${l}`);
        });
      }
      mvn.on("close", (c) => resolve(c ?? 1));
    });
    if (code !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`mvn failed (exit ${code}) fetching Cassandra ${CASSANDRA_VERSION} jars:\n${tail.join("\n")}`);
    }
    const jars = fs.readdirSync(tmp).filter((f) => f.endsWith(".jar"));
    if (!jars.includes(`cassandra-all-${CASSANDRA_VERSION}.jar`))
      throw new Error(`mvn succeeded but ${tmp} has no cassandra-all-${CASSANDRA_VERSION}.jar`);
    fs.rmSync(lib, { recursive: true, force: true }); // a partial copy from an interrupted run
    fs.renameSync(tmp, lib);
    const fetchMs = Date.now() - started;
    const marker: Marker = {
      version: CASSANDRA_VERSION,
      jars: jars.length,
      fetchedAt: new Date().toISOString(),
      fetchMs,
    };
    fs.writeFileSync(path.join(dir, "lib.complete.tmp"), JSON.stringify(marker, null, 2) + "\n");
    fs.renameSync(path.join(dir, "lib.complete.tmp"), path.join(dir, "lib.complete"));
    log(`fetched ${jars.length} jars into ${lib} in ${(fetchMs / 1000).toFixed(1)} s`);
    return lib;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// java

/** Cassandra 5.0 needs Java 11 or 17; 17 is what this project uses (24+ has no security manager). */
function javaMajor(bin: string): number | undefined {
  const r = spawnSync(bin, ["-version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr + r.stdout);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

export function findJava(log: Log = () => {}): string {
  if (process.env.CASSANDRA_JAVA) return process.env.CASSANDRA_JAVA; // as told, unchecked
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, "bin", "java"));
  candidates.push("java");
  try {
    for (const d of fs.readdirSync("/usr/lib/jvm").sort())
      if (/17/.test(d)) candidates.push(path.join("/usr/lib/jvm", d, "bin", "java"));
  } catch {
    // no /usr/lib/jvm
  }
  const seen: string[] = [];
  for (const bin of candidates) {
    const major = javaMajor(bin);
    seen.push(`${bin}: ${major ?? "not runnable"}`);
    if (major === 17) return bin;
    if (major !== undefined) log(`skipping ${bin} (Java ${major}); Cassandra 5.0 runs here under Java 17`);
  }
  throw new Error(
    `Cassandra 5.0 needs Java 17 and none was found (${seen.join("; ")}). Install openjdk-17-jre-headless or set CASSANDRA_JAVA to a Java 17 binary.`,
  );
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, bin), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** From Cassandra 5.0's conf/jvm17-server.options (JPMS, netty) plus a few of jvm-server.options. */
const JVM17_OPTIONS = [
  "-XX:+UseG1GC",
  "-XX:+ParallelRefProcEnabled",
  "-XX:MaxTenuringThreshold=1",
  "-XX:MaxGCPauseMillis=300",
  "-Djdk.attach.allowAttachSelf=true",
  "--add-exports",
  "java.base/jdk.internal.misc=ALL-UNNAMED",
  "--add-exports",
  "java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-exports",
  "java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-exports",
  "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
  "--add-exports",
  "java.rmi/sun.rmi.registry=ALL-UNNAMED",
  "--add-exports",
  "java.rmi/sun.rmi.server=ALL-UNNAMED",
  "--add-exports",
  "java.sql/java.sql=ALL-UNNAMED",
  "--add-exports",
  "java.base/java.lang.ref=ALL-UNNAMED",
  "--add-exports",
  "jdk.unsupported/sun.misc=ALL-UNNAMED",
  "--add-exports",
  "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
  "--add-exports",
  "jdk.attach/sun.tools.attach=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.lang.module=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.loader=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.reflect=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.math=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.module=ALL-UNNAMED",
  "--add-opens",
  "java.base/jdk.internal.util.jar=ALL-UNNAMED",
  "--add-opens",
  "jdk.management/com.sun.management.internal=ALL-UNNAMED",
  "--add-opens",
  "java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.io=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.nio=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.lang.reflect=ALL-UNNAMED",
  "--add-opens",
  "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.lang=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.util=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.util.concurrent=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
  "--add-opens",
  "java.base/java.net=ALL-UNNAMED",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dio.netty.allocator.useCacheForAllThreads=true",
  "-Dio.netty.allocator.maxOrder=11",
  // from jvm-server.options
  "-Djava.net.preferIPv4Stack=true",
  "-Djdk.nio.maxCachedBufferSize=1048576",
  "-XX:+UseTLAB",
  "-XX:+ResizeTLAB",
  "-XX:+PerfDisableSharedMem",
  "-XX:+CrashOnOutOfMemoryError",
];

// ---------------------------------------------------------------------------------------------
// config files

const q = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function cassandraYaml(dataDir: string, nativePort: number, storagePort: number, clusterName: string): string {
  // Only keys Cassandra 5.0 knows: an unknown key stops start-up.
  return `# generated by scripts/cassandra/launcher.ts on every start; edits are overwritten
cluster_name: ${q(clusterName)}
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:${storagePort}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
native_transport_port: ${nativePort}
storage_port: ${storagePort}
data_file_directories:
  - ${q(path.join(dataDir, "data"))}
commitlog_directory: ${q(path.join(dataDir, "commitlog"))}
saved_caches_directory: ${q(path.join(dataDir, "saved_caches"))}
hints_directory: ${q(path.join(dataDir, "hints"))}
cdc_raw_directory: ${q(path.join(dataDir, "cdc_raw"))}
auto_snapshot: false
`;
}

function logbackXml(logDir: string): string {
  const pattern = "%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n";
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/cassandra/launcher.ts on every start -->
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${xml(path.join(logDir, "system.log"))}</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy">
      <fileNamePattern>${xml(path.join(logDir, "system.log.%d{yyyy-MM-dd}.%i.gz"))}</fileNamePattern>
      <maxFileSize>20MB</maxFileSize>
      <maxHistory>3</maxHistory>
      <totalSizeCap>200MB</totalSizeCap>
    </rollingPolicy>
    <encoder><pattern>${pattern}</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>${pattern}</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
`;
}

// ---------------------------------------------------------------------------------------------
// start / stop

async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `port ${port} (${what}) on 127.0.0.1 is already in use: another Cassandra (or something else) is listening there. ` +
                `Stop it, or pick other ports (startCassandra({ nativePort, storagePort }) / CASSANDRA_NATIVE_PORT, CASSANDRA_STORAGE_PORT).`
            : `cannot check port ${port} (${what}): ${e.message}`,
        ),
      ),
    );
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** true when something accepts TCP on 127.0.0.1:port */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.setTimeout(1000);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

function assertNoLiveNodeOn(dataDir: string, pidFile: string): void {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, "utf8").trim());
  } catch {
    return;
  }
  if (!pid || !pidAlive(pid)) return;
  let cmdline = "";
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return;
  }
  if (cmdline.includes("CassandraDaemon") && cmdline.includes(`-Dcassandra.storagedir=${dataDir}`)) {
    throw new Error(
      `a Cassandra (pid ${pid}) is already running on ${dataDir}; stop it first (kill ${pid}) or use another dataDir`,
    );
  }
}

export async function startCassandra(opts: StartOptions = {}): Promise<RunningCassandra> {
  const log = opts.log ?? defaultLog;
  const dataDir = path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const nativePort = opts.nativePort ?? 9042;
  const storagePort = opts.storagePort ?? 7000;
  const heapMb = opts.heapMb ?? 512;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;
  const fast = opts.fast ?? true;

  await assertPortFree(nativePort, "CQL native_transport_port");
  await assertPortFree(storagePort, "storage_port");
  if (opts.jmxPort) await assertPortFree(opts.jmxPort, "JMX");

  const libDir = await ensureCassandraJars(log);
  const java = findJava(log);
  const jamm = fs.readdirSync(libDir).find((f) => /^jamm-.*\.jar$/.test(f));
  if (!jamm) throw new Error(`no jamm jar in ${libDir}`);

  const confDir = path.join(dataDir, "conf");
  const logDir = path.join(dataDir, "logs");
  const triggersDir = path.join(dataDir, "triggers"); // it warns every minute when missing
  for (const d of [dataDir, confDir, logDir, triggersDir]) fs.mkdirSync(d, { recursive: true });
  const pidFile = path.join(dataDir, "cassandra.pid");
  assertNoLiveNodeOn(dataDir, pidFile);
  const yamlPath = path.join(confDir, "cassandra.yaml");
  const logbackPath = path.join(confDir, "logback.xml");
  fs.writeFileSync(yamlPath, cassandraYaml(dataDir, nativePort, storagePort, opts.clusterName ?? "edge-chat-local"));
  fs.writeFileSync(logbackPath, logbackXml(logDir));
  const logFile = path.join(logDir, "system.log");

  const args = [
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    ...JVM17_OPTIONS,
    `-XX:ErrorFile=${path.join(logDir, "hs_err_pid%p.log")}`,
    `-javaagent:${path.join(libDir, jamm)}`,
    "-Dcassandra-foreground=yes",
    `-Dcassandra.storagedir=${dataDir}`,
    `-Dcassandra.logdir=${logDir}`,
    `-Dcassandra.triggers_dir=${triggersDir}`,
    `-Dcassandra.config=${pathToFileURL(yamlPath).href}`,
    `-Dlogback.configurationFile=${pathToFileURL(logbackPath).href}`,
    ...(opts.jmxPort ? [`-Dcassandra.jmx.local.port=${opts.jmxPort}`] : []),
    ...(fast
      ? [
          "-Dcassandra.skip_wait_for_gossip_to_settle=0",
          "-Dcassandra.unsafesystem=true",
          "-Dcassandra.skip_sync=true",
          "-Dcassandra.shutdown_announce_in_ms=0", // a single node has nobody to tell; saves 2 s per stop
        ]
      : []),
    ...(opts.jvmArgs ?? []),
    "-cp",
    path.join(libDir, "*"),
    "org.apache.cassandra.service.CassandraDaemon",
  ];

  // both wrappers exec, so the pid we get is java's
  let command = java;
  if (!opts.lockMemory && process.getuid?.() === 0 && onPath("setpriv") && onPath("prlimit")) {
    args.unshift(
      "--inh-caps=-ipc_lock",
      "--bounding-set=-ipc_lock",
      "--",
      "prlimit",
      "--memlock=65536:65536",
      "--",
      java,
    );
    command = "setpriv";
  }

  const spawnedAt = Date.now();
  const child: ChildProcess = spawn(command, args, { cwd: dataDir, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((r) => child.once("error", r));
    throw new Error(`could not spawn ${java}: ${err.message}`);
  }
  fs.writeFileSync(pidFile, `${pid}\n`);
  log(
    `started Cassandra ${CASSANDRA_VERSION} (pid ${pid}, heap ${heapMb} MB, CQL 127.0.0.1:${nativePort}, storage ${storagePort}, data ${dataDir}, log ${logFile})`,
  );

  const tail: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: s }).on("line", (l) => {
      tail.push(l);
      if (tail.length > 40) tail.shift();
      log(l);
    });
  }
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      try {
        if (fs.readFileSync(pidFile, "utf8").trim() === String(pid)) fs.rmSync(pidFile, { force: true });
      } catch {
        // already gone
      }
      resolve();
    }),
  );
  // never leave an orphan JVM behind when this process ends without stop()
  const onExit = () => {
    if (exitInfo === undefined) child.kill("SIGTERM");
  };
  process.on("exit", onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (exitInfo === undefined) {
        child.kill("SIGTERM");
        const killed = await Promise.race([exited.then(() => false), sleep(20_000).then(() => true)]);
        if (killed) {
          log(`pid ${pid} still running 20 s after SIGTERM; sending SIGKILL`);
          child.kill("SIGKILL");
          await exited;
        }
      }
      process.off("exit", onExit);
    })());

  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(
      `Cassandra did not start: ${why}\n--- last lines of its output (full log: ${logFile}) ---\n${tail.join("\n")}`,
    );
  };

  // wait for CQL: first the port (cheap), then a real query
  const deadline = spawnedAt + readyTimeoutMs;
  let lastError = "";
  let version = "";
  for (;;) {
    if (exitInfo !== undefined) return fail(`java exited (${exitInfo}) before CQL answered`);
    if (Date.now() > deadline)
      return fail(
        `CQL on 127.0.0.1:${nativePort} did not answer within ${readyTimeoutMs / 1000} s${lastError ? ` (last error: ${lastError})` : ""}`,
      );
    if (await Promise.race([portOpen(nativePort), exited.then(() => false)])) {
      const client = new cassandra.Client({
        contactPoints: [`127.0.0.1:${nativePort}`],
        localDataCenter: LOCAL_DATA_CENTER,
        socketOptions: { connectTimeout: 5000, readTimeout: 10_000 },
      });
      try {
        const rs = await Promise.race([
          client.execute("SELECT release_version FROM system.local"),
          exited.then(() => undefined),
        ]);
        if (rs) {
          version = String(rs.first()?.get("release_version") ?? "");
          break;
        }
      } catch (e) {
        lastError = (e as Error).message;
      } finally {
        await client.shutdown().catch(() => {});
      }
    }
    await Promise.race([sleep(500), exited]);
  }
  log(
    `CQL ready on 127.0.0.1:${nativePort} (release_version ${version}) ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s after spawn`,
  );

  return {
    contactPoints: [`127.0.0.1:${nativePort}`],
    localDataCenter: LOCAL_DATA_CENTER,
    port: nativePort,
    pid,
    version,
    dataDir,
    logFile,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// for test setups

export interface CassandraEndpoint {
  contactPoints: string[];
  localDataCenter: string;
  /** "configured": CASSANDRA_CONTACT_POINTS was set and nothing was started */
  origin: "configured" | "started";
  /** stops the node when this process started it; a no-op otherwise */
  stop(): Promise<void>;
}

/**
 * CASSANDRA_CONTACT_POINTS (comma-separated "host" or "host:port"; data center from
 * CASSANDRA_LOCAL_DC, default datacenter1) when set, else a node started with startCassandra(opts).
 */
export async function useOrStartCassandra(opts: StartOptions = {}): Promise<CassandraEndpoint> {
  const configured = process.env.CASSANDRA_CONTACT_POINTS?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (configured?.length) {
    return {
      contactPoints: configured,
      localDataCenter: process.env.CASSANDRA_LOCAL_DC || LOCAL_DATA_CENTER,
      origin: "configured",
      stop: async () => {},
    };
  }
  const node = await startCassandra(opts);
  return {
    contactPoints: node.contactPoints,
    localDataCenter: node.localDataCenter,
    origin: "started",
    stop: node.stop,
  };
}
