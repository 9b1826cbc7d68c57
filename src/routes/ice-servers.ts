// POST /v1/ice-servers: short-lived TURN credentials for one user, ready for new RTCPeerConnection().
import { authenticateVendRequest, vendSubject } from "../auth/vend-auth";
import { VendBody } from "../contract/requests";
import { isFailure } from "../errors";
import type { AppEnv } from "../http/app-env";
import { recordAudit } from "../http/audited";
import { ERRORS } from "../http/codes";
import { cors } from "../http/cors";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { issueCredentials } from "../vend/issue";
import { resolveTtl } from "../vend/ttl";

export const iceServers = new Hono<AppEnv>();

// Credentials must never sit in a cache, and neither should the errors about them.
iceServers.use(async (c, next) => {
  await next();
  c.header("Cache-Control", "no-store");
});
iceServers.use(
  ...cors({
    methods: ["POST"],
    headers: ["authorization", "content-type"],
    expose: ["retry-after", "x-request-id"],
  }),
);

iceServers.post("/", async (c) => {
  // VEND_UPSTREAM_DEADLINE_MS counts from here: checking the token is part of the wait a user sees.
  const arrivedAt = Date.now();
  c.set("route", "ice_servers.vend");
  const config = c.get("config");
  const identity = await authenticateVendRequest(c.req.header("authorization"), config);
  if (identity.kind === "caller") c.set("caller", identity.caller);
  const body = await readJsonBody(c, VendBody);
  const issued = await issueCredentials(c.get("services").vend, {
    subject: vendSubject(identity, body.subject),
    ttl: resolveTtl(body.ttl, config),
    issuedBy: identity.kind === "caller" ? `caller:${identity.caller.id}` : "end_user",
    clientIp: identity.kind === "end_user" ? c.req.header("cf-connecting-ip") : undefined,
    allowReuse: body.fresh !== true,
    arrivedAt,
  }).catch(async (err: unknown) => {
    // A user over the quota is worth an audit event: a leaked token, or a client stuck in a loop. The
    // subject stays out of it (its hash is on the request's log lines, found by request_id).
    if (isFailure(err, "quota_exceeded")) {
      await recordAudit(c, {
        caller: identity.kind === "caller" ? identity.caller.id : "end_user",
        action: "credentials.quota_exceeded",
        keyId: undefined,
        outcome: `failure:${ERRORS.quota_exceeded.status} quota_exceeded`,
        // Bounded like every refusal: a client looping over its quota must not flood the trail.
        refused: true,
      });
    }
    throw err;
  });
  c.set("logFields", issued.logFields);
  return c.json(issued.body);
});

iceServers.all("/", methodNotAllowed("POST, OPTIONS"));
