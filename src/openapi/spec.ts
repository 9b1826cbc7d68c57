// Builds the OpenAPI 3.1 document from the operation table and the request schemas. Run at build time
// (`npm run openapi` writes public/openapi.json, a static asset) so the Worker ships neither the converter
// nor the document.
import type * as v from "valibot";
import { toJsonSchema, type ConversionConfig, type JsonSchema } from "@valibot/to-json-schema";
import { CREDENTIAL_TTL_CAP_SECONDS, CREDENTIAL_TTL_DEFAULT_SECONDS, CREDENTIAL_TTL_MIN_SECONDS } from "../constants";
import type { FailureKind } from "../errors";
import { ERRORS, OTHER_STATUSES } from "../http/codes";
import { VendBody } from "../contract/requests";
import { OPERATIONS, PATH_PARAMS, type Operation } from "./operations";
import { ErrorEnvelope } from "../contract/responses";

const CONVERSION: ConversionConfig = {
  target: "draft-2020-12",
  // Query strings are converted before their transform to numbers: the wire form is what matters.
  typeMode: "input",
  overrideSchema: ({ valibotSchema }) => {
    // The vend body takes `ttl` as unknown so the TTL policy gives every bad value one answer; document the policy.
    if (valibotSchema === VendBody.entries.ttl.wrapped) {
      return {
        type: "integer",
        minimum: CREDENTIAL_TTL_MIN_SECONDS,
        maximum: CREDENTIAL_TTL_CAP_SECONDS,
        description: `Seconds; at most CREDENTIAL_TTL_MAX_SECONDS (default ${CREDENTIAL_TTL_DEFAULT_SECONDS} when absent).`,
      };
    }
    return undefined;
  },
  overrideAction: ({ valibotAction, jsonSchema }) => {
    // Custom checks have no JSON Schema form; their message states the rule.
    if (valibotAction.type === "check") {
      const message = (valibotAction as { message?: unknown }).message;
      return typeof message === "string"
        ? { ...jsonSchema, description: joinSentences(jsonSchema.description, message) }
        : jsonSchema;
    }
    return undefined;
  },
};

function schema(s: v.GenericSchema): JsonSchema {
  const { $schema: _ignored, ...rest } = toJsonSchema(s, CONVERSION);
  return rest;
}

function joinSentences(a: string | undefined, b: string): string {
  return a ? `${a}; ${b}` : b;
}

export function buildOpenApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path][op.method] = operation(op);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "turnvend",
      version: "0.1.0",
      description:
        "TURN credential vending for Cloudflare Realtime TURN. Every error is Cloudflare's v4 envelope with a stable code " +
        "(`x-error-codes` on each response lists them); a method a path does not serve gets 405 (10022) with `Allow`, an unknown path 404 (10020). " +
        "The static files (the connectivity page and its script and style, /ice-servers.js, this document) are answered by Workers Static Assets: GET and HEAD only, and any other method gets a bare 405. " +
        "Internal callers send a caller token as `Authorization: Bearer` (or a Cloudflare Access service token); the scope each operation needs is in `x-required-scope`.",
    },
    tags: [...new Set(OPERATIONS.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        callerToken: {
          type: "http",
          scheme: "bearer",
          description: "An internal caller's token (CALLERS). The security requirement lists the scope it must hold.",
        },
        accessServiceToken: {
          type: "apiKey",
          in: "header",
          name: "Cf-Access-Jwt-Assertion",
          description:
            "A Cloudflare Access service token's JWT, mapped to a caller by ACCESS_CALLERS; used only when no Authorization header is sent.",
        },
        endUserJwt: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "An end user's JWT from the app's own auth (HS256 or JWKS); its `sub` is the subject.",
        },
      },
      schemas: { ErrorEnvelope: schema(ErrorEnvelope) },
    },
  };
}

function operation(op: Operation) {
  const scope = op.auth.kind === "caller" ? op.auth.scope : op.auth.kind === "vend" ? "credentials:issue" : undefined;
  const authNote =
    op.auth.kind === "caller"
      ? `Requires a caller with scope \`${op.auth.scope}\`.`
      : op.auth.kind === "vend"
        ? "Requires an end-user JWT, or a caller token with scope `credentials:issue`."
        : "No authentication.";
  const parameters = [
    ...[...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      schema: schema(PATH_PARAMS[name]),
    })),
    ...Object.entries(op.query?.entries ?? {}).map(([name, s]) => ({
      name,
      in: "query",
      required: s.type !== "optional",
      schema: schema(s),
    })),
    ...(op.headers ?? []).map((h) => ({
      name: h.name,
      in: "header",
      required: false,
      description: h.description,
      schema: schema(h.schema),
    })),
  ];
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: joinSentences(op.description, authNote).replace(/\.; /, ". "),
    ...(scope !== undefined ? { "x-required-scope": scope } : {}),
    security: security(op),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body
      ? { requestBody: { required: false, content: { "application/json": { schema: schema(op.body) } } } }
      : {}),
    // A static file never reaches the Worker, so none of its errors apply.
    responses: op.staticFile ? success(op) : { ...success(op), ...errorResponses([...op.errors, "internal_error"]) },
  };
}

function security(op: Operation) {
  switch (op.auth.kind) {
    case "none":
      return [];
    case "caller":
      // OpenAPI 3.1 lets non-OAuth schemes list role names: the scope.
      return [{ callerToken: [op.auth.scope] }, { accessServiceToken: [op.auth.scope] }];
    case "vend":
      return [{ endUserJwt: [] }, { callerToken: ["credentials:issue"] }];
  }
}

function success(op: Operation) {
  const { status, description, schema: s, contentType = "application/json", headers } = op.success;
  return {
    [status]: {
      description,
      ...(headers
        ? {
            headers: Object.fromEntries(
              Object.entries(headers).map(([name, d]) => [name, { description: d, schema: { type: "string" } }]),
            ),
          }
        : {}),
      content: { [contentType]: s ? { schema: schema(s) } : {} },
    },
  };
}

function errorResponses(kinds: FailureKind[]) {
  const byStatus = new Map<number, FailureKind[]>();
  for (const kind of new Set(kinds)) {
    for (const status of [ERRORS[kind].status, ...(OTHER_STATUSES[kind] ?? [])])
      byStatus.set(status, [...(byStatus.get(status) ?? []), kind]);
  }
  const out: Record<string, unknown> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const list = byStatus.get(status)!;
    out[status] = {
      description: list.map((k) => `${ERRORS[k].code} ${k}`).join(", "),
      "x-error-codes": list.map((k) => ({ code: ERRORS[k].code, kind: k })),
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
    };
  }
  return out;
}
