// Calls the Worker under test the way a client would, over its fetch handler inside workerd.
import { env, SELF } from "cloudflare:test";
import { ACCOUNT_ID, CALLERS, type Role } from "./fixtures";

export const ORIGIN = "http://turnvend.test";
export const KEYS_PATH = `/client/v4/accounts/${ACCOUNT_ID}/calls/turn_keys`;

/**
 * A static file (public/) as a browser gets it. At the edge, Workers Static Assets answers these before the
 * Worker runs; the ASSETS binding is that same asset server, with the headers from public/_headers.
 */
export function fromAssets(path: string, init?: RequestInit): Promise<Response> {
  return env.ASSETS.fetch(new Request(ORIGIN + path, init));
}

export interface CallOptions {
  as?: Role | "none" | { token: string };
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  const as = opts.as ?? "admin";
  if (as !== "none") headers.set("authorization", `Bearer ${typeof as === "string" ? CALLERS[as].token : as.token}`);
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return SELF.fetch(new Request(ORIGIN + path, { method: opts.method ?? (body ? "POST" : "GET"), headers, body }));
}

/** A response body parsed as the v4 envelope. */
export async function envelope<T = unknown>(res: Response) {
  return (await res.json()) as {
    success: boolean;
    errors: { code: number; message: string }[];
    messages: unknown[];
    result: T;
  };
}
