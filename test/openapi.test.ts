import { beforeEach, describe, expect, it } from "vitest";
import { app } from "../src/dev";
import { SCOPES, type Scope } from "../src/scopes";
import type { FailureKind } from "../src/errors";
import { ERRORS } from "../src/http/codes";
import committed from "../public/openapi.json";
import { buildOpenApiDocument } from "../src/openapi/spec";
import { OPERATIONS } from "../src/openapi/operations";
import { call, envelope, fromAssets } from "./support/api";
import { ACCOUNT_ID, CALLERS, type Role } from "./support/fixtures";
import { resetWorld } from "./support/reset";

interface DocOperation {
  "x-required-scope"?: string;
  security: Record<string, string[]>[];
  responses: Record<string, { "x-error-codes"?: { code: number; kind: string }[] }>;
}
type Doc = { paths: Record<string, Record<string, DocOperation>> };

const doc = committed as unknown as Doc;
const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every (method, path) Hono serves, in OpenAPI's `{param}` form. `ALL` entries are middleware and 405 fallbacks. */
function servedOperations(): string[] {
  const ops = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    ops.add(`${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  }
  return [...ops].sort();
}

function documentedOperations(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => HTTP_METHODS.includes(m))
        .map((m) => `${m} ${path}`),
    )
    .sort();
}

function operations(): [string, DocOperation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([m, op]) => [`${m} ${path}`, op] as [string, DocOperation]),
  );
}

describe("the OpenAPI document", () => {
  it("is the document the request schemas generate today (run `npm run openapi` when this fails)", () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it("documents every route the Worker serves, and no route it does not serve", () => {
    const served = servedOperations();
    expect(served.length).toBeGreaterThan(10);
    const staticFiles = new Set(OPERATIONS.filter((o) => o.staticFile).map((o) => `${o.method} ${o.path}`));
    expect(documentedOperations().filter((op) => !staticFiles.has(op))).toEqual(served);
  });

  it("documents static files that the assets really serve", async () => {
    const staticFiles = OPERATIONS.filter((o) => o.staticFile);
    expect(staticFiles.length).toBe(8);
    for (const op of staticFiles) {
      const res = await fromAssets(op.path);
      expect(res.status, op.path).toBe(200);
      expect(res.headers.get("content-type"), op.path).toMatch(
        new RegExp(`^${op.success.contentType!.replace("text/javascript", "(text|application)/javascript")}`),
      );
      await res.arrayBuffer();
    }
  });

  it("names only error codes that exist, each under its own HTTP status", () => {
    const kinds = new Map<number, FailureKind>(
      Object.entries(ERRORS).map(([kind, e]) => [e.code, kind as FailureKind]),
    );
    for (const [name, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const { code, kind } of response["x-error-codes"] ?? []) {
          expect(kinds.get(code), `${name}: code ${code}`).toBe(kind);
          // upstream_rejected keeps Cloudflare's own 409 and 422; a body that stops arriving is a 408.
          const allowed =
            kind === "upstream_rejected"
              ? [400, 409, 422]
              : kind === "invalid_request"
                ? [400, 408]
                : [ERRORS[kind as FailureKind].status];
          expect(allowed, `${name}: ${kind} under ${status}`).toContain(Number(status));
        }
      }
      // Every operation the Worker answers can fail with 500; a static file never reaches it.
      const isStatic = OPERATIONS.some((o) => o.staticFile && `${o.method} ${o.path}` === name);
      expect(op.responses["500"]?.["x-error-codes"], name).toEqual(
        isStatic ? undefined : [{ code: 10099, kind: "internal_error" }],
      );
    }
  });

  it("gives every authenticated operation a known scope, in x-required-scope and in its security requirement", () => {
    for (const [name, op] of operations()) {
      const scope = op["x-required-scope"];
      if (scope === undefined) {
        expect(op.security, name).toEqual([]);
        continue;
      }
      expect(SCOPES, name).toContain(scope);
      expect(op.security.find((s) => "callerToken" in s)?.callerToken, name).toEqual([scope]);
    }
  });

  it("is served at GET /openapi.json without auth, cacheable for 5 minutes", async () => {
    const res = await fromAssets("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(await res.json()).toEqual(committed);
    expect((await fromAssets("/openapi.json", { method: "POST", body: "{}" })).status).toBe(405);
  });
});

describe("the documented scopes are the ones the routes enforce", () => {
  beforeEach(() => resetWorld());

  const concrete = (path: string) => path.replace("{account_id}", ACCOUNT_ID).replace("{key_id}", "0".repeat(32));
  const roleWithout = (scope: Scope) =>
    (Object.keys(CALLERS) as Role[]).find((r) => !(CALLERS[r].scopes as readonly string[]).includes(scope))!;
  const roleWith = (scope: Scope) =>
    (Object.keys(CALLERS) as Role[]).find((r) => (CALLERS[r].scopes as readonly string[]).includes(scope))!;

  it("refuses a caller lacking the documented scope with 403, and lets one holding it past authorization", async () => {
    const scoped = operations().filter(([, op]) => op["x-required-scope"] !== undefined);
    expect(scoped.length).toBeGreaterThan(8);
    for (const [name, op] of scoped) {
      const [method, path] = name.split(" ");
      const scope = op["x-required-scope"] as Scope;
      const init = { method: method.toUpperCase(), ...(["post", "put"].includes(method) ? { body: {} } : {}) };
      const refused = await call(concrete(path), { ...init, as: roleWithout(scope) });
      expect(refused.status, `${name} without ${scope}`).toBe(403);
      expect((await envelope(refused)).errors[0].code).toBe(10011);
      const allowed = await call(concrete(path), { ...init, as: roleWith(scope) });
      expect([401, 403], `${name} with ${scope}`).not.toContain(allowed.status);
    }
  });
});
