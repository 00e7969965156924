// A CPU profile of the edge's JavaScript (the Worker and every Durable Object share one isolate
// locally), taken through V8's inspector while a benchmark runs, and summed by function.
//   EDGE_INSPECTOR_PORT=9229 npx tsx bench/miniflare-edge.ts --port 8788
//   npx tsx bench/profile.ts [--port 9229] [--seconds 10] [--out .data/edge.cpuprofile]
// Open the .cpuprofile in Chrome's DevTools (Performance) for the flame chart; the table here is
// self time per function (where the CPU was), then the same by source file.
//   npx tsx bench/profile.ts --heap [--seconds 10]
// samples allocations instead (V8's sampling heap profiler, collected objects included): what the
// isolate allocated, by the three innermost frames, which is what sets how often it collects.
import fs from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9229" },
    seconds: { type: "string", default: "10" },
    out: { type: "string", default: ".data/edge.cpuprofile" },
    top: { type: "string", default: "40" },
    // Miniflare's inspector lists its own helper workers too; the app is "core:user:<name>"
    target: { type: "string", default: "core:user:" },
    // --from FILE: summarise a profile taken earlier instead of taking one
    from: { type: "string" },
    heap: { type: "boolean", default: false },
  },
});

/** the sampling interval asked of V8, in µs */
const INTERVAL_US = 200;

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

if (values.heap) {
  await heap();
  process.exit(0);
}
const profile: Profile = values.from ? (JSON.parse(fs.readFileSync(values.from, "utf8")) as Profile) : await take();

type Call = <T>(method: string, params?: object) => Promise<T>;

/** A session with the edge isolate's inspector; `close` ends it. */
async function inspector(): Promise<{ call: Call; title: string; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${values.port}/json/list`)).json()) as Array<{
    id: string;
    webSocketDebuggerUrl: string;
    title?: string;
  }>;
  const target = targets.find((t) => t.id.startsWith(values.target!)) ?? null;
  if (!target) throw new Error(`no inspector target on port ${values.port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  let nextId = 1;
  const pending = new Map<number, (v: unknown) => void>();
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown };
    if (m.id !== undefined)
      pending.get(m.id)?.(m.error ? Promise.reject(new Error(JSON.stringify(m.error))) : m.result);
  });
  const call: Call = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve as (v: unknown) => void);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, title: target.title ?? target.webSocketDebuggerUrl, close: () => ws.close() };
}

async function take(): Promise<Profile> {
  const { call, title, close } = await inspector();
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: INTERVAL_US });
  await call("Profiler.start");
  console.log(`profiling ${title} for ${values.seconds} s`);
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  const { profile } = await call<{ profile: Profile }>("Profiler.stop");
  close();
  fs.writeFileSync(values.out!, JSON.stringify(profile));
  return profile;
}

interface HeapNode {
  callFrame: { functionName: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Allocations over the window, summed by their three innermost frames. */
async function heap(): Promise<void> {
  const { call, title, close } = await inspector();
  await call("HeapProfiler.enable");
  await call("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  console.log(`sampling allocations of ${title} for ${values.seconds} s`);
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  const { profile } = await call<{ profile: { head: HeapNode } }>("HeapProfiler.stopSampling");
  close();
  const bySite = new Map<string, number>();
  const walk = (n: HeapNode, inner: string[]) => {
    const frame = `${n.callFrame.functionName || "(anonymous)"}:${n.callFrame.lineNumber + 1}`;
    const stack = [frame, ...inner];
    const key = stack.slice(0, 3).join(" < ");
    bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, stack);
  };
  walk(profile.head, []);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  console.log(`${(total / 1e6).toFixed(1)} MB allocated (sampled estimate)`);
  for (const [k, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`${(bytes / 1e6).toFixed(2).padStart(7)} MB  ${k}`);
}

// Self time per node: its samples times the sampling interval. Not the samples' time deltas:
// workerd's isolate is sampled only while it runs JavaScript, so the delta of the first sample
// after the thread was away (socket writes, SQLite, waiting) holds that whole gap, and weighting by
// it charged the idle time to whatever ran next: the entry of each event (webSocketMessage, zod).
const selfUs = new Map<number, number>();
for (const id of profile.samples) selfUs.set(id, (selfUs.get(id) ?? 0) + INTERVAL_US);
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const wallUs = profile.timeDeltas.reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const n of profile.nodes) {
  const us = selfUs.get(n.id) ?? 0;
  const file = n.callFrame.url.split("/").slice(-2).join("/") || "(native)";
  const fn = `${n.callFrame.functionName || "(anonymous)"}  ${file}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byFile.set(file, (byFile.get(file) ?? 0) + us);
}
const show = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
};
// total time: a node's self time plus its callees', counted once per function on each stack
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || "(anonymous)"}  ${n.callFrame.url.split("/").slice(-2).join("/") || "(native)"}:${n.callFrame.lineNumber + 1}`;
const totalByFunction = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = label(nodes.get(at)!);
    if (seen.has(k)) continue;
    seen.add(k);
    totalByFunction.set(k, (totalByFunction.get(k) ?? 0) + us);
  }
}
console.log(
  `${profile.samples.length} samples: ~${(total / 1000).toFixed(0)} ms in the isolate of ${(wallUs / 1000).toFixed(0)} ms (${((total / wallUs) * 100).toFixed(0)}%; the rest is the thread outside JavaScript or idle); profile in ${values.out}`,
);
show("self time by function", byFunction, Number(values.top));
show("total time by function (self and callees)", totalByFunction, Number(values.top));
show("self time by file", byFile, 15);
