import { describe, expect, it } from "vitest";
import { OPERATIONS } from "../src/openapi/operations";
import { fromAssets } from "./support/api";

// These files never reach the Worker: Workers Static Assets answers them with the headers in public/_headers.
const STATIC_PATHS = OPERATIONS.filter((o) => o.staticFile).map((o) => o.path);

describe("the static files (public/)", () => {
  it("are answered by the assets with the same security headers the Worker sets on its own answers", async () => {
    for (const path of STATIC_PATHS) {
      const res = await fromAssets(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      const page = path === "/" || path === "/usage";
      expect(res.headers.get("cache-control"), path).toBe(page ? "no-cache" : "public, max-age=300");
      const csp = res.headers.get("content-security-policy") ?? "";
      // The page replaces the default policy rather than adding a second, looser one.
      expect(csp.split(",").length, path).toBe(1);
      expect(csp, path).toMatch(
        page
          ? /^default-src 'none'; script-src 'self'; style-src 'self';/
          : /^default-src 'none'; frame-ancestors 'none'$/,
      );
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

  it("are every static file the API description lists, and nothing else answers from the assets", async () => {
    expect([...STATIC_PATHS].sort()).toEqual([
      "/",
      "/connectivity.css",
      "/connectivity.js",
      "/ice-servers.js",
      "/openapi.json",
      "/usage",
      "/usage.css",
      "/usage.js",
    ]);
    for (const path of ["/v1/ice-servers", "/healthz", "/client/v4/accounts"]) {
      const res = await fromAssets(path);
      expect(res.status, path).toBe(404);
      await res.arrayBuffer();
    }
  });

  it("answer other methods with the asset server's 405", async () => {
    for (const path of STATIC_PATHS) {
      for (const method of ["POST", "PUT", "DELETE"]) {
        const res = await fromAssets(path, { method, body: method === "DELETE" ? undefined : "{}" });
        expect(res.status, `${method} ${path}`).toBe(405);
        await res.arrayBuffer();
      }
    }
  });
});
