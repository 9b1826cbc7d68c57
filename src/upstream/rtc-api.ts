// A thin client for Cloudflare Realtime TURN credentials (docs/cloudflare-upstream.md#credential-routes),
// authenticated with one TURN key's own secret. Responses are validated; failures are mapped for a vend
// path, where a refused key is an operator problem (503), never the end user's. Adoption tries a secret
// with generateWithCandidate, where a refusal is an answer, not a failure.
import * as v from "valibot";
import { CREDENTIAL_USERNAME_MAX_LENGTH } from "../constants";
import { Failure } from "../errors";
import { assertKeyId } from "../ids";
import { log } from "../observability/log";
import type { UpstreamBudget } from "./budget";
import { expectShape, sendUpstream, upstreamFailure, type UpstreamResponse } from "./request";

/** One ICE server as Cloudflare sends it: `urls` a string or a list; other fields are dropped by the schema. */
const UpstreamIceServer = v.object({
  urls: v.union([v.string(), v.pipe(v.array(v.string()), v.minLength(1))]),
  username: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(CREDENTIAL_USERNAME_MAX_LENGTH))),
  credential: v.optional(v.string()),
});
export type UpstreamIceServer = v.InferOutput<typeof UpstreamIceServer>;

/** The current answer has an array, the legacy one a single object: both are accepted (docs/cloudflare-upstream.md#credential-response). */
export const GenerateResponse = v.object({
  iceServers: v.union([v.pipe(v.array(UpstreamIceServer), v.minLength(1)), UpstreamIceServer]),
});
export type GenerateResponse = v.InferOutput<typeof GenerateResponse>;

/** Every TURN username in an upstream answer: the handles revocation needs later. */
export function credentialUsernames(upstream: UpstreamIceServer | UpstreamIceServer[]): string[] {
  const list = Array.isArray(upstream) ? upstream : [upstream];
  return [...new Set(list.map((s) => s.username).filter((u): u is string => typeof u === "string" && u.length > 0))];
}

const GENERATE_ROUTE = "credentials.generate_ice_servers";

/** 401/403/404 on a key's own routes: Cloudflare does not take the bearer as this key's secret (or the key is gone). */
function isKeyRefusal(status: number): boolean {
  return status === 401 || status === 403 || status === 404;
}

export type CredentialRevokeOutcome = "revoked" | "not_found";

export class RtcApi {
  constructor(
    private readonly baseUrl: string,
    private readonly budget: UpstreamBudget,
  ) {}

  /** The same client with a new allowance, for work that runs after the request's own has been used. */
  withBudget(budget: UpstreamBudget): RtcApi {
    return new RtcApi(this.baseUrl, budget);
  }

  async generateIceServers(
    keyId: string,
    keySecret: string,
    input: { ttl: number; customIdentifier: string },
  ): Promise<GenerateResponse> {
    const res = await this.sendGenerate(keyId, keySecret, input);
    if (res.status < 200 || res.status >= 300) throw this.failure(GENERATE_ROUTE, keyId, res);
    return expectShape(GENERATE_ROUTE, GenerateResponse, res.data);
  }

  /**
   * Mints with a secret turnvend does not hold yet, to learn whether it is this key's. Here a refusal
   * (401/403/404) is the answer, "refused", not a failure; every other failure maps as for vending.
   */
  async generateWithCandidate(
    keyId: string,
    candidateSecret: string,
    input: { ttl: number; customIdentifier: string },
  ): Promise<GenerateResponse | "refused"> {
    const res = await this.sendGenerate(keyId, candidateSecret, input);
    if (isKeyRefusal(res.status)) return "refused";
    if (res.status < 200 || res.status >= 300) throw this.failure(GENERATE_ROUTE, keyId, res);
    return expectShape(GENERATE_ROUTE, GenerateResponse, res.data);
  }

  private sendGenerate(
    keyId: string,
    keySecret: string,
    input: { ttl: number; customIdentifier: string },
  ): Promise<UpstreamResponse> {
    return sendUpstream({
      route: GENERATE_ROUTE,
      method: "POST",
      url: `${this.credentialsUrl(keyId)}/generate-ice-servers`,
      bearer: keySecret,
      body: { ttl: input.ttl, customIdentifier: input.customIdentifier },
      // A repeat mints a second credential at worst, which expires unused: safe to retry.
      idempotent: true,
      budget: this.budget,
    });
  }

  /** Revokes one credential. Upstream 404 means it is unknown or already revoked: nothing left to do. */
  async revoke(keyId: string, keySecret: string, username: string): Promise<CredentialRevokeOutcome> {
    const route = "credentials.revoke";
    const res = await sendUpstream({
      route,
      method: "POST",
      // Usernames are opaque upstream values: encoded so no character can change the path.
      url: `${this.credentialsUrl(keyId)}/${encodeURIComponent(username)}/revoke`,
      bearer: keySecret,
      // Revoking twice is harmless (a second call finds nothing, 404).
      idempotent: true,
      budget: this.budget,
    });
    if (res.status >= 200 && res.status < 300) return "revoked";
    if (res.status === 404) return "not_found";
    throw this.failure(route, keyId, res);
  }

  private credentialsUrl(keyId: string): string {
    // Defence in depth: key ids come from configuration or KV, but none reaches a URL unchecked.
    assertKeyId(keyId);
    return `${this.baseUrl}/turn/keys/${keyId}/credentials`;
  }

  private failure(route: string, keyId: string, res: UpstreamResponse): Failure {
    // 401/403/404 on a key's own routes: the key was deleted or turnvend holds the wrong secret. The
    // caller's credentials are fine; the operator must act.
    if (isKeyRefusal(res.status)) {
      log("vend.key_refused", { route, key_id: keyId, status: res.status });
      return new Failure(
        "no_active_key",
        "Cloudflare refused the TURN key turnvend vends with (deleted, or its stored secret is wrong); an operator must adopt its right secret or set a working key",
      );
    }
    // Every body turnvend sends is validated first, so an upstream 4xx is turnvend's problem: 502.
    if (res.status === 400 || res.status === 409 || res.status === 422) {
      log("upstream.failed", { route, status: res.status });
      return new Failure("upstream_error", "Cloudflare rejected turnvend's credential request");
    }
    return upstreamFailure(route, res);
  }
}
