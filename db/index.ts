// The one entry into db/ for the Worker, the objects and the services: the client, the status
// codes, the schema and the queries more than one deployable runs. Node tooling (an embedded
// PostgreSQL, the local Neon proxy, migrations) has its own entry, db/local/index.ts.
export * from "./client.js";
export * from "./codes.js";
export * from "./errors.js";
export * from "./membership.js";
export * from "./online-hint.js";
export * from "./presence-scope.js";
export * from "./room-snapshot.js";
export * from "./room-seq.js";
export * from "./schema/index.js";
/** the tables as one namespace, for drizzle({ schema }) */
export * as schema from "./schema/index.js";
