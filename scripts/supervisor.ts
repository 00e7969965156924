// Keeps one child process running: started, restarted with backoff whenever it dies (recovery
// without a person: a fault suite kills services by PID), and stopped on request with SIGTERM,
// then SIGKILL after a grace period. `npm start` runs the sink and the push relay under it.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import readline from "node:readline";

export interface Backoff {
  /** the wait before the first restart */
  initialMs: number;
  /** the most it grows to (doubling with each quick death) */
  maxMs: number;
  /** a child that stayed up this long counts as recovered: its next restart waits initialMs again */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

/** The wait before the next start, given the last wait (null: none yet) and how long the child stayed up. */
export function nextDelay(previousMs: number | null, uptimeMs: number, b: Backoff): number {
  if (previousMs === null || uptimeMs >= b.resetAfterMs) return b.initialMs;
  return Math.min(previousMs * 2, b.maxMs);
}

export interface ChildSpec {
  /** for log lines */
  name: string;
  command: string;
  args: readonly string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** answers 2xx once the child serves (waitHealthy polls it) */
  healthUrl?: string;
  backoff?: Partial<Backoff>;
  /** after SIGTERM, how long stop() waits before SIGKILL */
  stopGraceMs?: number;
  /** the supervisor's own lines (starts, exits, restarts) */
  log?: (line: string) => void;
  /** each line the child writes (stdout and stderr); unset: the child shares this process's terminal */
  output?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface ChildExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
  /** the wait before the restart; null when the supervisor is stopping */
  restartInMs: number | null;
}

/**
 * Events: "start" (pid), "exit" (ChildExit). The child runs in its own process group, so a
 * Ctrl-C at the terminal reaches only the parent, which stops its children in order; if the
 * parent exits without stopping them, they are killed as it goes.
 */
export class Supervisor extends EventEmitter<{ start: [pid: number]; exit: [ChildExit] }> {
  readonly backoff: Backoff;
  private child: ChildProcess | null = null;
  /** the child was spawned and has not ended */
  private alive = false;
  /** it also reported "spawn": it has a PID and runs */
  private running = false;
  private ended: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private lastDelay: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private lastExit: ChildExit | null = null;
  /** how many times the child was started */
  starts = 0;
  private readonly killOnExit = () => {
    try {
      if (this.alive && this.child?.pid) process.kill(this.child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  };

  constructor(readonly spec: ChildSpec) {
    super();
    this.backoff = { ...DEFAULT_BACKOFF, ...spec.backoff };
    process.on("exit", this.killOnExit);
    this.launch();
  }

  /** the running child's PID, or undefined between a death and its restart */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  private log(line: string) {
    (this.spec.log ?? console.log)(line);
  }

  private launch() {
    this.timer = null;
    if (this.stopping) return;
    const { spec } = this;
    const piped = !!spec.output;
    // (ProcessEnv is typed with this repository's [vars]: a child's environment is any strings)
    const child: ChildProcess = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: piped ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
    });
    this.child = child;
    this.alive = true;
    this.startedAt = Date.now();
    let markEnded!: () => void;
    this.ended = new Promise((r) => (markEnded = r));
    if (piped) {
      for (const stream of ["stdout", "stderr"] as const)
        readline.createInterface({ input: child[stream]! }).on("line", (l) => spec.output!(l, stream));
    }
    child.once("spawn", () => {
      this.running = true;
      this.starts += 1;
      this.log(
        this.starts === 1 ? `${spec.name} started (pid ${child.pid})` : `${spec.name} restarted (pid ${child.pid})`,
      );
      this.emit("start", child.pid!);
    });
    // a failed spawn (no such program) emits "error" and no "exit": both end this child
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (ended) return;
      ended = true;
      this.alive = false;
      this.running = false;
      markEnded();
      const uptimeMs = Date.now() - this.startedAt;
      const restartInMs = this.stopping ? null : nextDelay(this.lastDelay, uptimeMs, this.backoff);
      const exit: ChildExit = { pid: child.pid ?? 0, code, signal, uptimeMs, restartInMs };
      this.lastExit = exit;
      const how = error
        ? `failed to start (${error.message})`
        : signal
          ? `killed by ${signal}`
          : `exited with code ${code}`;
      this.log(
        `${spec.name} (pid ${child.pid ?? "none"}) ${how} after ${(uptimeMs / 1000).toFixed(1)} s` +
          (restartInMs === null ? "" : `; restarting in ${(restartInMs / 1000).toFixed(1)} s`),
      );
      this.emit("exit", exit);
      if (restartInMs !== null) {
        this.lastDelay = restartInMs;
        this.timer = setTimeout(() => this.launch(), restartInMs);
      }
    };
    child.once("exit", (code, signal) => end(code, signal));
    child.on("error", (err) => {
      // after "spawn" an error is a failed kill: the child still runs, and "exit" will come
      if (this.running) this.log(`${spec.name} (pid ${child.pid}): ${err.message}`);
      else end(null, null, err);
    });
  }

  /** Resolves once the health URL answers 2xx; rejects after timeoutMs or when stopped. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const url = this.spec.healthUrl;
    if (!url) throw new Error(`${this.spec.name} has no health URL`);
    const deadline = Date.now() + timeoutMs;
    while (!this.stopping) {
      if (this.running) {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          if (res.ok) return;
        } catch {
          /* not listening yet */
        }
      }
      if (Date.now() >= deadline) {
        const last = this.lastExit;
        const why = last ? ` (last exit: ${last.signal ?? `code ${last.code}`} after ${last.uptimeMs} ms)` : "";
        throw new Error(`${this.spec.name} did not answer ${url} within ${timeoutMs / 1000} s${why}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.spec.name} was stopped`);
  }

  /** Stops restarting; SIGTERM to the child, SIGKILL after the grace period; resolves once it is gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    try {
      if (!child || !this.alive) return;
      const gone = this.ended;
      this.log(`${this.spec.name} (pid ${child.pid}): stopping`);
      child.kill("SIGTERM");
      const grace = setTimeout(() => {
        this.log(`${this.spec.name} (pid ${child.pid}) still running after SIGTERM: SIGKILL`);
        child.kill("SIGKILL");
      }, this.spec.stopGraceMs ?? 10_000);
      await gone;
      clearTimeout(grace);
    } finally {
      process.off("exit", this.killOnExit);
    }
  }
}
