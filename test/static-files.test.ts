import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { STATIC_PATHS } from "../src/routes/static-files";
import { call, envelope } from "./support/api";

// At the edge these files never reach the Worker: Workers Static Assets answers them with the headers in
// public/_headers. The ASSETS binding is that same asset server, so these tests see what a browser gets.
const fromAssets = (path: string, init?: RequestInit) => env.ASSETS.fetch(new Request(`http://turnvend.test${path}`, init));

describe("the static files (public/)", () => {
  it("are answered by the assets with the same security headers the Worker sets on its own answers", async () => {
    for (const path of STATIC_PATHS) {
      const res = await fromAssets(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(res.headers.get("cache-control"), path).toBe(path === "/" ? "no-cache" : "public, max-age=300");
      const csp = res.headers.get("content-security-policy") ?? "";
      // The page replaces the default policy rather than adding a second, looser one.
      expect(csp.split(",").length, path).toBe(1);
      expect(csp, path).toMatch(path === "/" ? /^default-src 'none'; script-src 'self'; style-src 'self';/ : /^default-src 'none'; frame-ancestors 'none'$/);
      await res.arrayBuffer();
    }
  });

  it("let any origin import the browser helper, and only the helper", async () => {
    for (const path of STATIC_PATHS) {
      const res = await fromAssets(path);
      expect(res.headers.get("access-control-allow-origin"), path).toBe(path === "/ice-servers.js" ? "*" : null);
      await res.arrayBuffer();
    }
  });

  it("never serve the headers file itself or anything not in public/", async () => {
    for (const path of ["/_headers", "/index.ts", "/wrangler.toml", "/../wrangler.toml"]) {
      const res = await fromAssets(path);
      expect(res.status, path).toBe(404);
      await res.arrayBuffer();
    }
  });

  it("answer other methods with 405 from the Worker, naming GET", async () => {
    for (const path of STATIC_PATHS) {
      const res = await call(path, { as: "none", method: "POST", body: {} });
      expect(res.status, path).toBe(405);
      expect(res.headers.get("allow"), path).toBe("GET");
      expect((await envelope(res)).success, path).toBe(false);
    }
  });
});
