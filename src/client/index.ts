// A typed client for internal callers. Request types come from the schemas the routes validate with,
// answer types from the schemas the OpenAPI document is built from, and every answer is checked against
// them. Not imported by the Worker. (Hono RPC's hc<AppType> would type nothing here: the routes are
// registered statement by statement and read bodies with readJsonBody, so AppType carries no route schema.)
import * as v from "valibot";
import type { FailureKind } from "../errors";
import { ERRORS, MESSAGE_CODES } from "../http/codes";
import type { AdoptSecretBody, GuardBody, KeyNameBody } from "../contract/requests";
import {
  ActiveKeyView,
  AdoptedTurnKey,
  AuditPage,
  CreatedTurnKey,
  Envelope,
  ErrorEnvelope,
  GuardResult,
  RevokeCount,
  UsageReport,
  TurnKey,
  VendedCredentials,
} from "../contract/responses";

export type { CreatedTurnKey, TurnKey } from "../contract/responses";
export type ActiveKey = ActiveKeyView;
export type IceServers = VendedCredentials;
export type AuditEvent = v.InferOutput<typeof AuditPage>["result"][number];
export type { GuardResult, UsageReport } from "../contract/responses";

export interface TurnvendClientOptions {
  /** turnvend's origin, e.g. https://turnvend.example.workers.dev */
  baseUrl: string;
  /** A caller token (see `npm run caller:new`); its scopes decide which calls succeed. */
  token: string;
  /** The Cloudflare account turnvend manages; needed by the `keys` calls. */
  accountId?: string;
  /** Defaults to the global fetch; tests pass SELF.fetch. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** A refusal from turnvend: the v4 envelope's first error, with its stable code and kind. */
export class TurnvendApiError extends Error {
  override readonly name = "TurnvendApiError";
  constructor(
    readonly status: number,
    readonly code: number,
    /** The error kind for the code (README "Errors"), or undefined for a code this client does not know. */
    readonly kind: FailureKind | undefined,
    message: string,
    readonly requestId: string | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }
}

const KIND_BY_CODE = new Map(Object.entries(ERRORS).map(([kind, e]) => [e.code as number, kind as FailureKind]));

export function createTurnvendClient(options: TurnvendClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function request<S extends v.GenericSchema>(
    schema: S,
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ data: v.InferOutput<S>; response: Response }> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, ...init.headers };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await doFetch(base + path, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw toError(response, json);
    const parsed = v.safeParse(schema, json);
    if (!parsed.success) {
      throw new TurnvendApiError(
        response.status,
        0,
        undefined,
        `turnvend's answer to ${method} ${path} does not match its schema: ${v.summarize(parsed.issues)}`,
        response.headers.get("x-request-id") ?? undefined,
        undefined,
      );
    }
    return { data: parsed.output, response };
  }

  const keysPath = (keyId?: string) => {
    if (!options.accountId) throw new TypeError("createTurnvendClient: accountId is required for keys calls");
    const root = `/client/v4/accounts/${encodeURIComponent(options.accountId)}/calls/turn_keys`;
    return keyId === undefined ? root : `${root}/${encodeURIComponent(keyId)}`;
  };
  const freshHeaders = (fresh?: boolean) => (fresh ? { "cache-control": "no-cache" } : undefined);

  return {
    keys: {
      /** keys:read. `fresh` asks Cloudflare instead of the cache. */
      list: async (opts: { fresh?: boolean } = {}): Promise<TurnKey[]> =>
        (await request(Envelope(v.array(TurnKey)), "GET", keysPath(), { headers: freshHeaders(opts.fresh) })).data
          .result,
      /** keys:write. `key` (the secret) is present only for callers holding keys:reveal. */
      create: async (
        body: v.InferInput<typeof KeyNameBody> = {},
        opts: { idempotencyKey?: string } = {},
      ): Promise<CreatedTurnKey> =>
        (
          await request(Envelope(CreatedTurnKey), "POST", keysPath(), {
            body,
            headers: opts.idempotencyKey ? { "idempotency-key": opts.idempotencyKey } : undefined,
          })
        ).data.result,
      get: async (keyId: string, opts: { fresh?: boolean } = {}): Promise<TurnKey> =>
        (await request(Envelope(TurnKey), "GET", keysPath(keyId), { headers: freshHeaders(opts.fresh) })).data.result,
      update: async (keyId: string, body: v.InferInput<typeof KeyNameBody>): Promise<TurnKey> =>
        (await request(Envelope(TurnKey), "PUT", keysPath(keyId), { body })).data.result,
      delete: async (keyId: string): Promise<TurnKey> =>
        (await request(Envelope(TurnKey), "DELETE", keysPath(keyId))).data.result,
      /** keys:write. Takes custody of the secret of a key made outside turnvend. */
      adoptSecret: async (keyId: string, body: v.InferInput<typeof AdoptSecretBody>) =>
        (await request(Envelope(AdoptedTurnKey), "PUT", `/v1/keys/${encodeURIComponent(keyId)}/secret`, { body })).data
          .result,
    },
    activeKey: {
      get: async (): Promise<ActiveKey> =>
        (await request(Envelope(ActiveKeyView), "GET", "/v1/active-key")).data.result,
      set: async (keyId: string): Promise<ActiveKey> =>
        (await request(Envelope(ActiveKeyView), "PUT", "/v1/active-key", { body: { key_id: keyId } })).data.result,
    },
    /** credentials:issue: ICE servers for one of your users. */
    vendIceServers: async (body: { subject: string; ttl?: number }): Promise<IceServers> =>
      (await request(VendedCredentials, "POST", "/v1/ice-servers", { body })).data,
    credentials: {
      /** credentials:revoke. `remaining` means a cap left some for another call. */
      revoke: async (
        target: { username: string } | { subject: string },
      ): Promise<{ revoked: number; remaining: boolean }> => {
        const { data } = await request(Envelope(RevokeCount), "POST", "/v1/credentials/revoke", { body: target });
        return {
          revoked: data.result.revoked,
          remaining: data.messages.some((m) => m.code === MESSAGE_CODES.revoke_incomplete),
        };
      },
    },
    usage: {
      /** usage:read. The month's egress, the guard, top and blocked users; one user's too with `subject`. */
      get: async (opts: { subject?: string } = {}): Promise<UsageReport> => {
        const query = opts.subject === undefined ? "" : `?subject=${encodeURIComponent(opts.subject)}`;
        return (await request(Envelope(UsageReport), "GET", `/v1/usage${query}`)).data.result;
      },
    },
    guard: {
      /** guard:write. Kill switch (`stop`, `resume`), `lift` the account stop for `seconds`, `clear_user`. */
      change: async (body: v.InferInput<typeof GuardBody>): Promise<GuardResult> =>
        (await request(Envelope(GuardResult), "PUT", "/v1/guard", { body })).data.result,
    },
    audit: {
      /** audit:read. Newest first; pass the returned cursor for the next page (null at the end). */
      list: async (
        opts: { limit?: number; cursor?: string } = {},
      ): Promise<{ events: AuditEvent[]; cursor: string | null }> => {
        const query = new URLSearchParams();
        if (opts.limit !== undefined) query.set("limit", String(opts.limit));
        if (opts.cursor !== undefined) query.set("cursor", opts.cursor);
        const { data } = await request(AuditPage, "GET", `/v1/audit${query.size > 0 ? `?${query}` : ""}`);
        return { events: data.result, cursor: data.result_info.cursor };
      },
    },
  };
}

export type TurnvendClient = ReturnType<typeof createTurnvendClient>;

function toError(response: Response, json: unknown): TurnvendApiError {
  const parsed = v.safeParse(ErrorEnvelope, json);
  const first = parsed.success ? parsed.output.errors[0] : undefined;
  const retryAfter = Number(response.headers.get("retry-after"));
  return new TurnvendApiError(
    response.status,
    first?.code ?? 0,
    first ? KIND_BY_CODE.get(first.code) : undefined,
    first?.message ?? `turnvend answered HTTP ${response.status}`,
    response.headers.get("x-request-id") ?? undefined,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}
