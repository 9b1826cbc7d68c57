// Shapes of Cloudflare's responses, validated on the way in (docs/cloudflare-upstream.md#key-routes).
// Anything else is a 502.
import * as v from "valibot";
import { KEY_ID_PATTERN } from "../ids";

export const UpstreamKey = v.object({
  uid: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
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

export type UpstreamCreatedKey = v.InferOutput<typeof UpstreamCreatedKey>;

export const UpstreamKeyList = v.array(UpstreamKey);

export function envelopeOf<S extends v.GenericSchema>(result: S) {
  return v.object({ success: v.literal(true), result });
}
