// `npm run build:web` (run by npm run build and npm run deploy): the web client's bundle into
// web/dist, always rebuilt. npm start and the test setup build it only when stale (web-bundle.ts).
import { buildWebBundle } from "./web-bundle.js";

buildWebBundle((line) => console.log(`[web] ${line}`));
