import type { Caller } from "../auth/callers";
import type { Config } from "../config";
import type { LogFields } from "../observability/log";

/** Hono's typing for turnvend: the Worker's bindings and what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    caller?: Caller;
    /** Set by a handler that knows the route's name, for the access log. */
    route?: string;
    /** What a handler adds to the request's access-log line, so its outcome needs no line of its own. */
    logFields?: LogFields;
    /** The key an audited request acted on, when it is not in the path (e.g. a created key). */
    auditKeyId?: string;
  };
}
