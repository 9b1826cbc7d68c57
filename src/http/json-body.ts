// Reads a JSON request body within a byte limit and validates it against a strict schema.
import * as v from "valibot";
import type { Context } from "hono";
import { BODY_MAX_BYTES } from "../constants";
import { ApiError } from "./errors";

/**
 * Parses the body as JSON and validates it. An empty body reads as `{}` so that optional-only bodies
 * (create with no name) work the way Cloudflare's do.
 */
export async function readJsonBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const text = await readLimitedText(c.req.raw, BODY_MAX_BYTES);
  let data: unknown = {};
  if (text.trim() !== "") {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError("unsupported_media_type", "the body must be JSON, sent with Content-Type: application/json");
    }
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError("invalid_json", "the body is not valid JSON");
    }
  }
  // JSON bodies are objects; an array or a bare value is refused before the schema sees it.
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ApiError("invalid_request", "the body must be a JSON object");
  }
  const result = v.safeParse(schema, data);
  if (!result.success) throw schemaError(result.issues);
  return result.output;
}

function schemaError(issues: v.BaseIssue<unknown>[]): ApiError {
  const issue = issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  if (issue.kind === "schema" && issue.type === "strict_object" && path) {
    return new ApiError("unknown_field", `unknown field "${path.slice(0, 64)}"`);
  }
  return new ApiError("invalid_request", path ? `${path}: ${issue.message}` : issue.message);
}

/** Reads at most `limit` bytes; a larger body is refused without reading the rest. */
async function readLimitedText(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError("invalid_json", "the body is not valid UTF-8");
  }
}

function tooLarge(limit: number): ApiError {
  return new ApiError("payload_too_large", `the body exceeds ${limit} bytes`);
}
