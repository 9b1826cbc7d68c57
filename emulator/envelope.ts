// Cloudflare API v4 envelope and the error codes the emulator answers with. Codes Cloudflare is known to use are
// marked so; the rest are the emulator's own picks, since Cloudflare leaves them undocumented: map by status
// (docs/cloudflare-upstream.md#envelope-and-errors).

export type V4Error = { code: number; message: string };

export const V4_CODES = {
  /** Cloudflare: malformed or missing Authorization header. */
  invalidHeaders: 6003,
  /** Cloudflare: request body is not JSON. */
  malformedJson: 6007,
  /** Cloudflare: path id is not a valid identifier (sent together with noRoute). */
  invalidIdentifier: 7003,
  /** Cloudflare: no route for the URI. */
  noRoute: 7000,
  /** Cloudflare: bad token, missing permission, or an account the token cannot see. */
  authentication: 10000,
  /** Cloudflare: the rate-limit error body. */
  rateLimited: 971,
  /** Emulator pick: body fields of the wrong type. */
  invalidBody: 10001,
  /** Emulator pick: any other injected failure status. */
  injectedFault: 10002,
  /** Emulator pick: the 1,000-keys-per-account cap. */
  keyLimit: 10400,
  /** Emulator pick: well-formed but unknown key id. */
  keyNotFound: 10404,
} as const;

export function v4Success<T>(result: T): { success: true; errors: []; messages: []; result: T } {
  return { success: true, errors: [], messages: [], result };
}

export function v4Failure(errors: V4Error[]): { success: false; errors: V4Error[]; messages: []; result: null } {
  return { success: false, errors, messages: [], result: null };
}

/** The envelope of an injected `status` fault: 429 looks like Cloudflare's own rate-limit answer. */
export function v4FaultErrors(status: number, code?: number, message?: string): V4Error[] {
  if (status === 429) {
    return [
      {
        code: code ?? V4_CODES.rateLimited,
        message: message ?? "Please wait and consider throttling your request speed",
      },
    ];
  }
  return [{ code: code ?? V4_CODES.injectedFault, message: message ?? `Emulated upstream failure (HTTP ${status})` }];
}
