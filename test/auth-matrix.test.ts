// Every admin route × method × auth state. Refusals happen before any upstream call, in the v4 envelope.
import { beforeEach, describe, expect, it } from "vitest";
import type { Scope } from "../src/scopes";
import { call, envelope, KEYS_PATH, type CallOptions } from "./support/api";
import { resetWorld } from "./support/reset";
import { emulator } from "./support/emulator";
import { ACCOUNT_TOKEN, CALLERS, type Role } from "./support/fixtures";

beforeEach(async () => {
  await resetWorld();
});

interface AdminRoute {
  label: string;
  method: string;
  scope: Scope;
  success: number;
  /** Builds the path and body for one request; `keyId`/`secret` belong to a key that exists upstream. */
  request: (key: { uid: string; key: string }) => { path: string; body?: unknown };
}

const ROUTES: AdminRoute[] = [
  { label: "GET /turn_keys", method: "GET", scope: "keys:read", success: 200, request: () => ({ path: KEYS_PATH }) },
  {
    label: "POST /turn_keys",
    method: "POST",
    scope: "keys:write",
    success: 201,
    request: () => ({ path: KEYS_PATH, body: { name: "m" } }),
  },
  {
    label: "GET /turn_keys/:key_id",
    method: "GET",
    scope: "keys:read",
    success: 200,
    request: (k) => ({ path: `${KEYS_PATH}/${k.uid}` }),
  },
  {
    label: "PUT /turn_keys/:key_id",
    method: "PUT",
    scope: "keys:write",
    success: 200,
    request: (k) => ({ path: `${KEYS_PATH}/${k.uid}`, body: { name: "n" } }),
  },
  {
    label: "DELETE /turn_keys/:key_id",
    method: "DELETE",
    scope: "keys:write",
    success: 200,
    request: (k) => ({ path: `${KEYS_PATH}/${k.uid}` }),
  },
  {
    label: "PUT /v1/keys/:key_id/secret",
    method: "PUT",
    scope: "keys:write",
    success: 200,
    request: (k) => ({ path: `/v1/keys/${k.uid}/secret`, body: { key: k.key } }),
  },
];

const ROLES = Object.keys(CALLERS) as Role[];
const holds = (role: Role, scope: Scope) => (CALLERS[role].scopes as readonly string[]).includes(scope);

/** Ways to present no valid caller token; each must be a 401. */
const UNAUTHENTICATED: { label: string; as: CallOptions["as"]; headers?: Record<string, string> }[] = [
  { label: "no Authorization header", as: "none" },
  { label: "an unknown token", as: { token: "tv_test_nobody_000000" } },
  { label: "the account API token", as: { token: ACCOUNT_TOKEN } },
  {
    label: "a valid token followed by junk",
    as: "none",
    headers: { authorization: `Bearer ${CALLERS.admin.token} x` },
  },
  { label: "a valid token in another scheme", as: "none", headers: { authorization: `Basic ${CALLERS.admin.token}` } },
  { label: "an empty bearer", as: "none", headers: { authorization: "Bearer " } },
];

/** A key that exists upstream but is unknown to turnvend, so no request below depends on another. */
const keyOutOfBand = () => emulator.createOutOfBand("matrix");

async function expectRefusal(res: Response, status: number, code: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = await envelope(res);
  expect(body).toEqual({ success: false, errors: [{ code, message: expect.any(String) }], messages: [], result: null });
  expect(body.errors[0].message.length).toBeGreaterThan(10);
  return body.errors[0].message;
}

for (const route of ROUTES) {
  describe(`${route.label} (needs ${route.scope})`, () => {
    for (const state of UNAUTHENTICATED) {
      it(`refuses ${state.label} with 401 (code 10010) and no upstream call`, async () => {
        const { path, body } = route.request(await keyOutOfBand());
        const res = await call(path, { method: route.method, body, as: state.as, headers: state.headers });
        await expectRefusal(res, 401, 10010);
        expect((await emulator.calls()).total).toBe(0);
      });
    }

    for (const role of ROLES.filter((r) => !holds(r, route.scope))) {
      it(`refuses the ${role} caller (no ${route.scope}) with 403 (code 10011) and no upstream call`, async () => {
        const { path, body } = route.request(await keyOutOfBand());
        const res = await call(path, { method: route.method, body, as: role });
        expect(await expectRefusal(res, 403, 10011)).toContain(route.scope);
        expect((await emulator.calls()).total).toBe(0);
      });
    }

    for (const role of ROLES.filter((r) => holds(r, route.scope))) {
      it(`serves the ${role} caller (holds ${route.scope}) with ${route.success}`, async () => {
        const { path, body } = route.request(await keyOutOfBand());
        const res = await call(path, { method: route.method, body, as: role });
        expect(res.status).toBe(route.success);
        const env = await envelope(res);
        expect(env.success).toBe(true);
        expect(env.errors).toEqual([]);
        expect((await emulator.calls()).total).toBeGreaterThan(0);
      });
    }
  });
}

describe("the scope matrix itself", () => {
  it("covers every role, so a new role cannot slip past the matrix", () => {
    expect([...ROLES].sort()).toEqual(["admin", "auditor", "issuer", "reader", "revoker", "writer"]);
    for (const route of ROUTES) {
      expect(ROLES.some((r) => holds(r, route.scope))).toBe(true);
      expect(ROLES.some((r) => !holds(r, route.scope))).toBe(true);
    }
  });
});
