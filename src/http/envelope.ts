// Cloudflare's v4 envelope, exactly as Cloudflare shapes it, for successes and failures alike.

export interface V4Message {
  code: number;
  message: string;
}

/** The v4 failure envelope. */
export function errorEnvelope(errors: V4Message[]) {
  return { success: false as const, errors, messages: [], result: null };
}

/** The v4 success envelope; `messages` carries notes such as MESSAGE_CODES.revoke_incomplete. */
export function successEnvelope<T>(result: T, messages: V4Message[] = []) {
  return { success: true as const, errors: [], messages, result };
}
