import { Hono } from "hono";
import type { AppBindings } from "../env.js";

export const devicesRoutes = new Hono<AppBindings>();
