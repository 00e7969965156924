import { Hono } from "hono";
import type { AppBindings } from "../env.js";

export const usersRoutes = new Hono<AppBindings>();
