// Cloudflare's GraphQL Analytics API, for TURN usage (docs/cloudflare-upstream.md#usage-analytics): egress and
// ingress bytes of `callsTurnUsageAdaptiveGroups` by hour, for the account and per customIdentifier (the
// subject hash turnvend tags every credential with). GraphQL answers its failures inside a 200 with an
// `errors` array, so every answer's `errors` is checked before its data is believed.
//
// Sampling: the adaptive datasets are sampled, and the sums Cloudflare returns are its estimates for all
// traffic. turnvend uses them as reported and calls them estimates (README, "Protecting the bill"); they guard
// the bill, they are not the bill. A per-user page as full as `limit` may have left groups out, the lightest
// (`complete: false`): budgets are still judged on it, since it can only understate a user; leaks are not.
import * as v from "valibot";
import { ANALYTICS_PAGE_LIMIT } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { UpstreamBudget } from "./budget";
import { expectShape, sendUpstream, type UpstreamResponse, upstreamFailure } from "./request";

/** One hour's egress and ingress bytes; `hour` is the hour's start (epoch ms). */
export interface HourUsage {
  hour: number;
  egress: number;
  ingress: number;
}

/** One user's hour: `user` is the subject hash (customIdentifier). */
export interface UserHourUsage extends HourUsage {
  user: string;
}

const SUBJECT_HASH = /^[0-9a-f]{32}$/;

const Bytes = v.pipe(v.number(), v.minValue(0));
const Node = v.object({
  dimensions: v.object({ datetimeHour: v.string(), customIdentifier: v.optional(v.nullable(v.string())) }),
  sum: v.object({ egressBytes: Bytes, ingressBytes: v.optional(Bytes, 0) }),
});
const Answer = v.object({
  data: v.nullish(
    v.object({
      viewer: v.object({ accounts: v.array(v.object({ callsTurnUsageAdaptiveGroups: v.array(Node) })) }),
    }),
  ),
  errors: v.nullish(v.array(v.object({ message: v.optional(v.string(), "") }))),
});

// The dataset's filter takes the time range; `orderBy` puts the heaviest groups first, so a truncated page
// drops the lightest ones.
const query = (
  dimensions: string,
) => `query TurnUsage($accountTag: string!, $start: Time!, $end: Time!, $limit: uint64!) {
  viewer {
    accounts(filter: { accountTag: $accountTag }) {
      callsTurnUsageAdaptiveGroups(
        limit: $limit
        filter: { datetime_geq: $start, datetime_lt: $end }
        orderBy: [sum_egressBytes_DESC]
      ) {
        dimensions { ${dimensions} }
        sum { egressBytes ingressBytes }
      }
    }
  }
}`;

export class AnalyticsApi {
  constructor(
    private readonly config: { apiBaseUrl: string; accountId: string; token: string },
    private readonly budget: UpstreamBudget,
  ) {}

  /** The account's usage per hour in [start, end). */
  async accountHours(start: number, end: number): Promise<HourUsage[]> {
    const nodes = await this.ask("analytics.account_hours", "datetimeHour", start, end);
    return nodes.map((n) => ({
      hour: Date.parse(n.dimensions.datetimeHour),
      egress: n.sum.egressBytes,
      ingress: n.sum.ingressBytes,
    }));
  }

  /** Each user's usage per hour in [start, end); `complete` is false when the page may have been cut short. */
  async userHours(start: number, end: number): Promise<{ rows: UserHourUsage[]; complete: boolean }> {
    const nodes = await this.ask("analytics.user_hours", "customIdentifier datetimeHour", start, end);
    const rows = nodes.flatMap((n) => {
      const user = n.dimensions.customIdentifier ?? "";
      // Not a subject hash: turnvend's own adoption probe, or credentials minted outside turnvend.
      if (!SUBJECT_HASH.test(user)) return [];
      return [
        { user, hour: Date.parse(n.dimensions.datetimeHour), egress: n.sum.egressBytes, ingress: n.sum.ingressBytes },
      ];
    });
    return { rows, complete: nodes.length < ANALYTICS_PAGE_LIMIT };
  }

  private async ask(route: string, dimensions: string, start: number, end: number) {
    const res = await sendUpstream({
      route,
      method: "POST",
      url: `${this.config.apiBaseUrl}/graphql`,
      bearer: this.config.token,
      body: {
        query: query(dimensions),
        variables: {
          accountTag: this.config.accountId,
          start: new Date(start).toISOString(),
          end: new Date(end).toISOString(),
          limit: ANALYTICS_PAGE_LIMIT,
        },
      },
      // A query changes nothing: safe to repeat.
      idempotent: true,
      budget: this.budget,
    });
    if (res.status < 200 || res.status >= 300) throw analyticsFailure(route, res);
    const answer = expectShape(route, Answer, res.data);
    if (answer.errors && answer.errors.length > 0) {
      // GraphQL's messages describe the query, never the token: kept short for the log and /v1/usage.
      const message = answer.errors[0].message.slice(0, 200);
      log("analytics.graphql_errors", { route, errors: answer.errors.length, message });
      throw new Failure("upstream_error", `Cloudflare's analytics answered with errors: ${message}`);
    }
    const accounts = answer.data?.viewer.accounts;
    if (accounts?.length !== 1) {
      log("upstream.invalid_response", { route });
      throw new Failure("upstream_error", "Cloudflare's analytics answered without the account's data");
    }
    return accounts[0].callsTurnUsageAdaptiveGroups;
  }
}

/**
 * A failed answer, in the words /v1/usage shows as `last_error`. upstreamFailure speaks of the credential API:
 * its 404 is "no such TURN key", its refusal is of the account token; here the query went to GraphQL with the
 * analytics token, which may be another token lacking its one permission.
 */
function analyticsFailure(route: string, res: UpstreamResponse): Failure {
  const failure = upstreamFailure(route, res);
  if (failure.detail === "credentials_refused") {
    return new Failure(
      "upstream_error",
      "Cloudflare refused the analytics token (CLOUDFLARE_ANALYTICS_TOKEN, or CLOUDFLARE_API_TOKEN when it is unset): it needs Account Analytics Read",
      { detail: "credentials_refused" },
    );
  }
  if (failure.kind === "key_not_found") {
    return new Failure("upstream_error", "Cloudflare's analytics endpoint answered 404 (check CF_API_BASE_URL)");
  }
  return failure;
}
