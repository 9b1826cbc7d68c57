// The TTL policy: a configured default, and requests limited to [60 s, the configured maximum].
import { CREDENTIAL_TTL_MIN_SECONDS } from "../constants";
import { Failure } from "../errors";

export interface TtlPolicy {
  ttlDefaultSeconds: number;
  ttlMaxSeconds: number;
}

/** The lifetime to ask upstream for; anything but a whole number of seconds in range is a 400 naming the range. */
export function resolveTtl(requested: unknown, policy: TtlPolicy): number {
  if (requested === undefined) return policy.ttlDefaultSeconds;
  if (
    typeof requested !== "number" ||
    !Number.isInteger(requested) ||
    requested < CREDENTIAL_TTL_MIN_SECONDS ||
    requested > policy.ttlMaxSeconds
  ) {
    throw new Failure(
      "invalid_ttl",
      `ttl must be a whole number of seconds in [${CREDENTIAL_TTL_MIN_SECONDS}, ${policy.ttlMaxSeconds}]`,
    );
  }
  return requested;
}
