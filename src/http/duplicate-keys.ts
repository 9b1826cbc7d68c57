// Finds a key that appears twice in one JSON object. JSON.parse keeps the last value and a reviver
// never sees the first, while other parsers keep the first or refuse: a body with a repeated key means
// different things to different readers, so turnvend refuses it instead of picking one.

/** One open object (with the keys seen so far) or array on the way down the text. */
type Frame = { keys: Set<string>; expectingKey: boolean } | null;

/**
 * The first key repeated within one object of `text`, decoded (so `"a"` and `"\u0061"` are the same key),
 * or undefined. `text` must already have parsed as JSON; this scanner only tracks structure.
 */
export function findDuplicateKey(text: string): string | undefined {
  // An explicit stack, not recursion: a 16 KB body can nest thousands of levels deep.
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      const end = endOfString(text, i);
      const top = stack.at(-1);
      if (top?.expectingKey) {
        const key = decodeKey(text.slice(i, end + 1));
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectingKey = false;
      }
      i = end;
    } else if (ch === OPEN_BRACE) {
      stack.push({ keys: new Set(), expectingKey: true });
    } else if (ch === OPEN_BRACKET) {
      stack.push(null);
    } else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
      stack.pop();
    } else if (ch === COMMA) {
      const top = stack.at(-1);
      if (top) top.expectingKey = true;
    }
    // Anything else (whitespace, colons, numbers, true/false/null) carries no structure.
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/** Index of the quote closing the string that opens at `start`; an escape always consumes the next character. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === BACKSLASH) i++;
    else if (ch === QUOTE) return i;
  }
  return text.length - 1;
}

function decodeKey(literal: string): string {
  try {
    return JSON.parse(literal) as string;
  } catch {
    // Unreachable for text that parsed as JSON; the raw literal still compares consistently.
    return literal;
  }
}
