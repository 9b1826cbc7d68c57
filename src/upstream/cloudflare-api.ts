// A thin typed client for the v4 TURN key routes (docs/cloudflare-upstream.md#key-routes), authenticated
// with the account token. Every attempt spends a token of turnvend's v4 budget and passes the rate-limit
// breaker first (the gate); a 429 trips the breaker. Reads are "read" calls unless they serve a write.
import type * as v from "valibot";
import type { Config } from "../config";
import { assertKeyId } from "../ids";
import type { UpstreamBudget } from "./budget";
import type { V4CallKind } from "./v4-bucket";
import type { V4Gate } from "./v4-budget";
import { envelopeOf, UpstreamCreatedKey, UpstreamKey, UpstreamKeyList } from "./schemas";
import { expectShape, retryAfterSeconds, sendUpstream, upstreamFailure, type UpstreamRequest } from "./request";

export class CloudflareApi {
  constructor(
    private readonly config: Pick<Config, "apiBaseUrl" | "apiToken" | "accountId">,
    private readonly gate: V4Gate,
    private readonly budget: UpstreamBudget,
  ) {}

  /** Throws the breaker's 503 while this isolate knows Cloudflare is rate limiting the token; costs no call. */
  assertAvailable(): Promise<void> {
    return this.gate.assertAvailable();
  }

  /** The same client with another allowance, for work that has a budget of its own. */
  withBudget(budget: UpstreamBudget): CloudflareApi {
    return new CloudflareApi(this.config, this.gate, budget);
  }

  listKeys(kind: V4CallKind = "read"): Promise<UpstreamKey[]> {
    return this.call({ route: "turn_keys.list", method: "GET", path: "", kind }, UpstreamKeyList);
  }

  createKey(name: string | undefined): Promise<UpstreamCreatedKey> {
    return this.call(
      { route: "turn_keys.create", method: "POST", path: "", body: name === undefined ? {} : { name }, kind: "write" },
      UpstreamCreatedKey,
    );
  }

  getKey(keyId: string, kind: V4CallKind = "read"): Promise<UpstreamKey> {
    return this.call({ route: "turn_keys.get", method: "GET", path: this.keyPath(keyId), kind }, UpstreamKey);
  }

  updateKey(keyId: string, name: string | undefined): Promise<UpstreamKey> {
    return this.call(
      {
        route: "turn_keys.update",
        method: "PUT",
        path: this.keyPath(keyId),
        body: name === undefined ? {} : { name },
        kind: "write",
      },
      UpstreamKey,
    );
  }

  deleteKey(keyId: string): Promise<UpstreamKey> {
    return this.call(
      { route: "turn_keys.delete", method: "DELETE", path: this.keyPath(keyId), kind: "write" },
      UpstreamKey,
    );
  }

  // Defence in depth: routes validate ids already, but no path segment reaches a URL unchecked.
  private keyPath(keyId: string): string {
    assertKeyId(keyId);
    return `/${keyId}`;
  }

  private async call<S extends v.GenericSchema>(
    req: { route: string; method: UpstreamRequest["method"]; path: string; body?: unknown; kind: V4CallKind },
    result: S,
  ): Promise<v.InferOutput<S>> {
    const res = await sendUpstream({
      route: req.route,
      method: req.method,
      url: `${this.config.apiBaseUrl}/accounts/${this.config.accountId}/calls/turn_keys${req.path}`,
      bearer: this.config.apiToken,
      body: req.body,
      idempotent: req.method === "GET",
      budget: this.budget,
      beforeAttempt: () => this.gate.spend(req.kind),
    });
    if (res.status === 429) await this.gate.trip(retryAfterSeconds(res));
    if (res.status < 200 || res.status >= 300) throw upstreamFailure(req.route, res);
    return expectShape(req.route, envelopeOf(result), res.data).result;
  }
}
