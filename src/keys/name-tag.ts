// Every key turnvend creates carries a short marker at the end of its upstream name. If a create times
// out, turnvend can then tell from a fresh list whether Cloudflare made the key. The marker is removed
// from every name turnvend returns.

const TAG_SUFFIX = /\s~tv-[0-9a-f]{12}$/;

export function tagName(name: string | undefined, tag: string): string {
  return name ? `${name} ~tv-${tag}` : `~tv-${tag}`;
}

export function untagName(name: string): string {
  if (/^~tv-[0-9a-f]{12}$/.test(name)) return "";
  return name.replace(TAG_SUFFIX, "");
}

export function hasTag(name: string, tag: string): boolean {
  return name === `~tv-${tag}` || name.endsWith(` ~tv-${tag}`);
}
