// The one place turnvend picks its Hono preset. `hono/tiny` routes with PatternRouter: about 4 KB gzip
// smaller than the default preset's RegExpRouter + TrieRouter, which matters for cold starts, and fast
// enough for turnvend's few dozen routes (bench: the warm-read ratio is measured through it).
export { Hono } from "hono/tiny";
