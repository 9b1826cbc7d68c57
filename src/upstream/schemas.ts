// Shapes of Cloudflare's responses, validated on the way in (reference §1). Anything else is a 502.
import * as v from "valibot";

export const UpstreamKey = v.object({
  uid: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)),
  name: v.optional(v.nullable(v.string()), ""),
  created: v.string(),
  modified: v.string(),
});
export type UpstreamKey = v.InferOutput<typeof UpstreamKey>;

/** Create returns the one-time secret as `key`; some versions call it `secret`. */
export const UpstreamCreatedKey = v.pipe(
  v.object({ ...UpstreamKey.entries, key: v.optional(v.string()), secret: v.optional(v.string()) }),
  v.transform((k) => ({
    uid: k.uid,
    name: k.name ?? "",
    created: k.created,
    modified: k.modified,
    key: k.key ?? k.secret ?? "",
  })),
  v.check((k) => k.key.length > 0, "created key has no secret"),
);

export const UpstreamKeyList = v.array(UpstreamKey);

export function envelopeOf<S extends v.GenericSchema>(result: S) {
  return v.object({ success: v.literal(true), result });
}
