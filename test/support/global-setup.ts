// Runs once per `npm test`: a fresh database on a real PostgreSQL with every migration applied,
// the WebSocket proxy the Neon driver needs, signing keys, and the Worker bundled by wrangler
// exactly as `wrangler deploy` bundles it.
import fs from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import pg from "pg";
import {
  canConnect,
  migrateDatabase,
  startEmbeddedPostgres,
  startWsProxy,
  withDatabase,
  type RunningPostgres,
} from "../../db/local/index.js";
import { ensureChromium } from "./browser.js";
import { newSigningJwk } from "./keys.js";
import { bundleWorker } from "./miniflare.js";

const root = path.resolve(import.meta.dirname, "../..");

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonProxy: string;
    privateJwk: string;
    workerScript: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await findPostgres();
  const dbName = `chat_test_${Date.now().toString(36)}_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const databaseUrl = withDatabase(server.adminUrl, dbName);
  await migrateDatabase(databaseUrl);

  // the SDK's and the web app's browser tests share one Chromium install, made before they start
  ensureChromium();
  const proxy = await startWsProxy();
  // per run: several test runs (or developers) may bundle at once
  const workerScript = bundleWorker(path.join(root, ".test-dist", String(process.pid)));

  project.provide("databaseUrl", databaseUrl);
  project.provide("neonProxy", proxy.endpoint);
  project.provide("privateJwk", await newSigningJwk());
  project.provide("workerScript", workerScript);

  return async () => {
    await proxy.close();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await server.stop();
  };
}

async function findPostgres(): Promise<RunningPostgres> {
  const configured = process.env.TEST_DATABASE_URL;
  if (configured) return { adminUrl: configured, origin: "configured", stop: async () => {} };
  const local = "postgres://postgres@127.0.0.1:5432/postgres";
  if (await canConnect(local)) return { adminUrl: local, origin: "local", stop: async () => {} };
  console.log(
    "[test] no PostgreSQL on 127.0.0.1:5432 and TEST_DATABASE_URL unset: starting an embedded PostgreSQL in .data/test-postgres",
  );
  const dir = path.join(root, ".data/test-postgres");
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  return startEmbeddedPostgres(dir, 54330, (l) => console.log(`[test-postgres] ${l}`));
}
