import type { Caller } from "../auth/callers";
import type { Config } from "../config";
import type { KeyDeps } from "../keys/deps";
import type { LogFields } from "../observability/log";
import type { AuditLog } from "../storage/audit-log";
import type { VendDeps } from "../vend/deps";

/** What the domain functions of one request need, wired once by src/http/wiring.ts. */
export interface Services {
  keys: KeyDeps;
  vend: VendDeps;
  audit: AuditLog;
}

/** Hono's typing for turnvend: the Worker's bindings and what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** turnvend's own id for the request (never a client's value): logs, audit events, X-Request-Id. */
    requestId: string;
    /** The request's CF-Ray header, when it has Cloudflare's format; recorded beside the request id. */
    cfRay?: string;
    /** Set by the wiring middleware on every API route (src/http/wiring.ts). */
    config: Config;
    services: Services;
    /** Set by requireCaller (and by the vend route for internal callers). */
    caller?: Caller;
    /** Set by a handler that knows the route's name, for the access log. */
    route?: string;
    /** What a handler adds to the request's access-log line, so its outcome needs no line of its own. */
    logFields?: LogFields;
    /** The key an audited request acted on, when it is not in the path (e.g. a created key). */
    auditKeyId?: string;
    /** The audit action, when the handler learned a more precise one than its route's (a replaced secret). */
    auditAction?: string;
    /** What the action was about beyond a key, for the audit event's `target` (a user's hash, a lift's seconds). */
    auditTarget?: string;
  };
}
