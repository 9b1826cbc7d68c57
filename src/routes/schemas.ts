// Request bodies. Strict objects: an unknown field is a 400, never silently ignored.
import * as v from "valibot";
import { KEY_NAME_MAX_LENGTH, KEY_SECRET_LENGTH } from "../constants";

export const KeyNameBody = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.maxLength(KEY_NAME_MAX_LENGTH, `name must be at most ${KEY_NAME_MAX_LENGTH} characters`))),
});

export const AdoptSecretBody = v.strictObject({
  key: v.pipe(v.string(), v.length(KEY_SECRET_LENGTH, `key must be the ${KEY_SECRET_LENGTH}-character TURN key secret`)),
});
