// Reads a Content-Type value as RFC 9110 §8.3.1 defines it: `type/subtype`, then `;`-separated
// parameters whose values are tokens or quoted strings.

// RFC 9110 §5.6.2 tchar.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
// RFC 9110 §5.6.4: qdtext and quoted-pair (obs-text included, as the grammar allows).
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
const TYPE = new RegExp(`^(${TOKEN}/${TOKEN})[ \\t]*`);
// An empty parameter (`application/json;`) is allowed by the grammar: `*( OWS ";" OWS [ parameter ] )`.
const PARAMETER = new RegExp(`^;[ \\t]*(?:(${TOKEN})=(${TOKEN}|${QUOTED}))?[ \\t]*`);

export interface MediaType {
  /** `type/subtype`, lowercased. */
  essence: string;
  /** Parameters in order, names lowercased, values unquoted (case kept: only some are case-insensitive). */
  parameters: [name: string, value: string][];
}

/** The media type, or null when the value does not follow the grammar. */
export function parseMediaType(value: string): MediaType | null {
  const head = TYPE.exec(value.trim());
  if (!head) return null;
  const parameters: [string, string][] = [];
  let rest = value.trim().slice(head[0].length);
  while (rest !== "") {
    const param = PARAMETER.exec(rest);
    if (!param) return null;
    if (param[1] !== undefined) parameters.push([param[1].toLowerCase(), unquote(param[2])]);
    rest = rest.slice(param[0].length);
  }
  return { essence: head[1].toLowerCase(), parameters };
}

function unquote(value: string): string {
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value;
}
