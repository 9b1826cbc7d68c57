import type { Caller } from "../auth/callers";
import type { Config } from "../config";

/** Hono's typing for turnvend: the Worker's bindings and what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    caller?: Caller;
    /** Set by a handler that knows the route's name, for the access log. */
    route?: string;
    /** The key an audited request acted on, when it is not in the path (e.g. a created key). */
    auditKeyId?: string;
  };
}
