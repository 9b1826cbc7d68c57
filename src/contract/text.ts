// Checks shared by every free-text field a caller sends: request bodies, and the `sub` of an end-user JWT
// (src/auth/end-user-jwt.ts), which names a user just as an internal caller's `subject` does.
import * as v from "valibot";

// C0 controls, DEL and C1 controls. Text is shown in dashboards and logs: a CR/LF could forge a line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
// A lone UTF-16 surrogate is not text: it becomes U+FFFD on the way out, so two different inputs
// would turn into the same value (the same key name upstream, the same subject hash).
const LONE_SURROGATE = /\p{Cs}/u;
// Format characters (bidi overrides and isolates such as U+202E, zero-width ones such as U+200B and U+FEFF)
// and the line and paragraph separators U+2028 and U+2029: invisible, or reordering what is around them,
// so a name holding one can pass for another name in a dashboard or a log viewer.
const INVISIBLE_OR_REORDERING = /[\p{Cf}\p{Zl}\p{Zp}]/u;

/** True when `s` has no control characters and no lone surrogates, so it encodes to UTF-8 unchanged. */
export function isPlainText(s: string): boolean {
  return !CONTROL_CHARACTER.test(s) && !LONE_SURROGATE.test(s);
}

/** A string of 1 (or `min`) to `max` characters with no control characters and no lone surrogates. */
export function plainText(field: string, max: number, min = 0) {
  return v.pipe(
    v.string(),
    v.minLength(min, `${field} must not be empty`),
    v.maxLength(max, `${field} must be at most ${max} characters`),
    v.check(
      isPlainText,
      `${field} must be plain text: no control characters (such as CR or LF), no unpaired surrogates`,
    ),
  );
}

/**
 * Text people read to tell things apart (key names): plainText, and no format characters or line
 * separators, so what a dashboard shows is every character the value holds, in its order.
 */
export function displayText(field: string, max: number, min = 0) {
  return v.pipe(
    plainText(field, max, min),
    v.check(
      (s) => !INVISIBLE_OR_REORDERING.test(s),
      `${field} must not contain invisible or direction-changing characters (such as U+200B, U+202E or U+2028)`,
    ),
  );
}
