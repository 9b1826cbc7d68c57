// Liveness and configuration check: no auth, no upstream call, no secret values in the answer.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { ERRORS } from "../http/codes";
import { errorEnvelope, successEnvelope } from "../http/envelope";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readConfig } from "../config";

export const health = new Hono<AppEnv>();

health.get("/healthz", (c) => {
  const result = readConfig(c.env);
  c.header("Cache-Control", "no-store");
  if (result.ok) return c.json(successEnvelope({ status: "ok" }));
  const { code } = ERRORS.not_configured;
  return c.json(errorEnvelope(result.problems.map((message) => ({ code, message }))), 503);
});

health.all("/healthz", methodNotAllowed("GET"));
