import { Hono } from "hono";
import type { AppBindings } from "../env.js";

export const friendsRoutes = new Hono<AppBindings>();
