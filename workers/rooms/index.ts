import { Hono } from "hono";
import type { AppBindings } from "../env.js";

export const roomsRoutes = new Hono<AppBindings>();
