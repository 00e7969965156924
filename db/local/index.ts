// The entry into db/ for Node tooling only (npm start, tests, benchmarks): an embedded
// PostgreSQL, the WebSocket-to-TCP proxy that plays Neon's role locally, and migrations.
export * from "./postgres.js";
export * from "./ws-proxy.js";
export { budgetFromEnv, DEFAULT_BUDGET, type BudgetOptions } from "./connection-budget.js";
export { ensureDatabase, migrateDatabase, migrationsFolder } from "../migrate.js";
