import type { Handler } from "hono";
import type { AppEnv } from "./app-env";
import { Failure } from "../errors";

/** Registered after a path's real methods: any other method gets 405 naming the allowed ones. */
export function methodNotAllowed(allow: string): Handler<AppEnv> {
  return (c) => {
    c.header("Allow", allow);
    throw new Failure("method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`);
  };
}
