// Reads a JSON request body within a byte limit and a time limit, and validates it against a strict schema.
import * as v from "valibot";
import type { Context } from "hono";
import { BODY_MAX_BYTES, BODY_READ_TIMEOUT_MS } from "../constants";
import { findDuplicateKey } from "./duplicate-keys";
import { parseMediaType } from "./media-type";
import { Failure } from "../errors";

/**
 * Parses the body as JSON and validates it. An empty body reads as `{}` so that optional-only bodies
 * (create with no name) work the way Cloudflare's do.
 */
export async function readJsonBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  // A declared media type is checked before the bytes are decoded, so UTF-16 JSON is a 415, not a 400.
  const type = c.req.header("content-type");
  if (type !== undefined && c.req.raw.body) checkJsonUtf8(type);
  const text = await readLimitedText(c.req.raw, BODY_MAX_BYTES);
  let data: unknown = {};
  if (text.trim() !== "") {
    checkJsonUtf8(c.req.header("content-type") ?? "");
    try {
      data = JSON.parse(text);
    } catch {
      throw new Failure("invalid_json", "the body is not valid JSON");
    }
    // JSON.parse silently keeps the last of two equal keys; another parser might keep the first.
    const duplicate = findDuplicateKey(text);
    if (duplicate !== undefined) {
      throw new Failure(
        "invalid_json",
        `the body repeats the key "${duplicate.slice(0, 64)}"; each key may appear once per object`,
      );
    }
  }
  // JSON bodies are objects; an array or a bare value is refused before the schema sees it.
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Failure("invalid_request", "the body must be a JSON object");
  }
  const result = v.safeParse(schema, data);
  if (!result.success) throw schemaError(result.issues);
  return result.output;
}

/**
 * `application/json`, with no charset or charset utf-8: the body is decoded as UTF-8 and nothing else, so
 * a body declared in another charset would be read as something its sender did not mean.
 */
function checkJsonUtf8(contentType: string): void {
  const media = parseMediaType(contentType);
  if (media?.essence !== "application/json") {
    throw new Failure("unsupported_media_type", "the body must be JSON, sent with Content-Type: application/json");
  }
  if (media.parameters.some(([name, value]) => name === "charset" && value.toLowerCase() !== "utf-8")) {
    throw new Failure("unsupported_media_type", "the body must be UTF-8: send charset=utf-8, or no charset");
  }
}

function schemaError(issues: v.BaseIssue<unknown>[]): Failure {
  // An unknown field outranks every other problem: the client speaks another schema (or probes, as with
  // `__proto__`), and its other fields may mean something else than it thinks.
  const issue =
    issues.find((i) => i.kind === "schema" && i.type === "strict_object" && i.expected === "never") ?? issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  if (issue.kind === "schema" && issue.type === "strict_object" && path) {
    // valibot reports both an unknown key (expected "never") and a missing required key this way.
    if (issue.expected === "never") return new Failure("unknown_field", `unknown field "${path.slice(0, 64)}"`);
    return new Failure("invalid_request", `missing field "${path}"`);
  }
  // valibot's own messages end "but received <the value>": cut, so a value sent in the wrong field (a token,
  // say) is never echoed. What was expected stays.
  const message = issue.message.replace(/ but received [\s\S]*$/, "");
  return new Failure("invalid_request", path ? `${path}: ${message}` : message);
}

/**
 * Reads at most `limit` bytes within `timeoutMs`; a larger body is refused without reading the rest, and
 * a body still arriving at the deadline is abandoned with 408.
 */
export async function readLimitedText(
  req: Request,
  limit: number,
  timeoutMs: number = BODY_READ_TIMEOUT_MS,
): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return "";
  const reader = req.body.getReader();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(tooSlow(timeoutMs)), timeoutMs);
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge(limit);
      chunks.push(value);
    }
  } catch (err) {
    // Not awaited: a stalled client must not stall the answer; cancelling only tells the stream to stop.
    reader.cancel().catch(() => {});
    // A stream that errors (the client went away mid-body) is a broken request, not a turnvend bug.
    throw err instanceof Failure ? err : new Failure("invalid_request", "the body could not be read");
  } finally {
    clearTimeout(timer);
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
    throw new Failure("invalid_json", "the body is not valid UTF-8");
  }
}

function tooLarge(limit: number): Failure {
  return new Failure("payload_too_large", `the body exceeds ${limit} bytes`);
}

// Answered 408 Request Timeout (src/http/codes.ts), with invalid_request's code.
function tooSlow(timeoutMs: number): Failure {
  return new Failure("invalid_request", `the body did not arrive within ${timeoutMs / 1000} s`, {
    detail: "body_timeout",
  });
}
