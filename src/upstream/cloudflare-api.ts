// A thin typed client for the v4 TURN key routes (docs/cloudflare-upstream.md#key-routes), authenticated
// with the account token.
// Every call passes the rate-limit breaker first; a 429 trips it.
import type * as v from "valibot";
import type { Config } from "../config";
import { assertKeyId } from "../ids";
import type { Breaker } from "./breaker";
import type { UpstreamBudget } from "./budget";
import { envelopeOf, UpstreamCreatedKey, UpstreamKey, UpstreamKeyList } from "./schemas";
import { expectShape, retryAfterSeconds, sendUpstream, upstreamFailure, type UpstreamRequest } from "./request";

export class CloudflareApi {
  constructor(
    private readonly config: Pick<Config, "apiBaseUrl" | "apiToken" | "accountId">,
    private readonly breaker: Breaker,
    private readonly budget: UpstreamBudget,
  ) {}

  /** The same client with another allowance, for work that has a budget of its own. */
  /** Throws the breaker's 503 while Cloudflare is rate limiting the token; costs no upstream call. */
  assertAvailable(): Promise<void> {
    return this.breaker.assertClosed();
  }

  withBudget(budget: UpstreamBudget): CloudflareApi {
    return new CloudflareApi(this.config, this.breaker, budget);
  }

  listKeys(): Promise<UpstreamKey[]> {
    return this.call({ route: "turn_keys.list", method: "GET", path: "" }, UpstreamKeyList);
  }

  createKey(name: string | undefined): Promise<UpstreamCreatedKey> {
    return this.call(
      { route: "turn_keys.create", method: "POST", path: "", body: name === undefined ? {} : { name } },
      UpstreamCreatedKey,
    );
  }

  getKey(keyId: string): Promise<UpstreamKey> {
    return this.call({ route: "turn_keys.get", method: "GET", path: this.keyPath(keyId) }, UpstreamKey);
  }

  updateKey(keyId: string, name: string | undefined): Promise<UpstreamKey> {
    return this.call(
      { route: "turn_keys.update", method: "PUT", path: this.keyPath(keyId), body: name === undefined ? {} : { name } },
      UpstreamKey,
    );
  }

  deleteKey(keyId: string): Promise<UpstreamKey> {
    return this.call({ route: "turn_keys.delete", method: "DELETE", path: this.keyPath(keyId) }, UpstreamKey);
  }

  // Defence in depth: routes validate ids already, but no path segment reaches a URL unchecked.
  private keyPath(keyId: string): string {
    assertKeyId(keyId);
    return `/${keyId}`;
  }

  private async call<S extends v.GenericSchema>(
    req: { route: string; method: UpstreamRequest["method"]; path: string; body?: unknown },
    result: S,
  ): Promise<v.InferOutput<S>> {
    await this.breaker.assertClosed();
    const res = await sendUpstream({
      route: req.route,
      method: req.method,
      url: `${this.config.apiBaseUrl}/accounts/${this.config.accountId}/calls/turn_keys${req.path}`,
      bearer: this.config.apiToken,
      body: req.body,
      idempotent: req.method === "GET",
      budget: this.budget,
    });
    if (res.status === 429) await this.breaker.trip(retryAfterSeconds(res));
    if (res.status < 200 || res.status >= 300) throw upstreamFailure(req.route, res);
    return expectShape(req.route, envelopeOf(result), res.data).result;
  }
}
