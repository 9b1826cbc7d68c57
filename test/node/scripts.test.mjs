// The command-line scripts a user runs by hand: what they print must work with the Worker.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { jwtVerify } from "jose";

const run = (script, args) => spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });

test("caller:new prints a token once and a CALLERS entry holding only its SHA-256", () => {
  const out = execFileSync(
    process.execPath,
    ["scripts/caller-new.mjs", "--id", "billing", "--scopes", "keys:read,keys:write"],
    { encoding: "utf8" },
  );
  const token = out.match(/^\s+(tv_[A-Za-z0-9_-]{43})$/m)?.[1];
  assert.ok(token, "a token is printed");
  const entry = JSON.parse(out.match(/^\s+(\{.*\})$/m)[1]);
  assert.deepEqual(entry, {
    id: "billing",
    token_sha256: createHash("sha256").update(token).digest("hex"),
    scopes: ["keys:read", "keys:write"],
  });
  assert.equal(out.split(token).length - 1, 1, "the token appears once");
});

test("caller:new refuses unknown scopes and bad ids with exit 2", () => {
  assert.equal(run("scripts/caller-new.mjs", ["--id", "x", "--scopes", "keys:everything"]).status, 2);
  assert.equal(run("scripts/caller-new.mjs", ["--id", "bad id", "--scopes", "keys:read"]).status, 2);
  assert.equal(run("scripts/caller-new.mjs", []).status, 2);
});

test("dev:jwt prints an HS256 token for the local defaults", async () => {
  const jwt = execFileSync(process.execPath, ["scripts/dev-jwt.mjs", "--sub", "alice", "--ttl", "600"], {
    encoding: "utf8",
  }).trim();
  const { payload, protectedHeader } = await jwtVerify(jwt, new TextEncoder().encode("dev-jwt-secret"), {
    issuer: "turnvend-dev",
    audience: "turnvend",
  });
  assert.equal(protectedHeader.alg, "HS256");
  assert.equal(payload.sub, "alice");
  assert.ok(payload.exp - payload.iat === 600);
});

test("dev:jwt refuses, with exit 2, a sub the Worker refuses: control characters", () => {
  for (const sub of ["a\nb", "a\u001bb", "nel\u0085"]) {
    assert.equal(run("scripts/dev-jwt.mjs", ["--sub", sub]).status, 2, JSON.stringify(sub));
  }
});

test("dev:jwt mints no token the Worker would refuse as living too long", () => {
  // The Worker's default JWT_MAX_LIFETIME_SECONDS is a day; the script reads the same variable.
  assert.equal(run("scripts/dev-jwt.mjs", ["--sub", "alice", "--ttl", "86401"]).status, 2);
  assert.equal(run("scripts/dev-jwt.mjs", ["--sub", "alice", "--ttl", "86400"]).status, 0);
  const short = spawnSync(process.execPath, ["scripts/dev-jwt.mjs", "--sub", "alice", "--ttl", "600"], {
    encoding: "utf8",
    env: { ...process.env, JWT_MAX_LIFETIME_SECONDS: "300" },
  });
  assert.equal(short.status, 2);
});
