// The duplicate-key scanner on its own: structure only, strings and escapes respected, one key set per object.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findDuplicateKey } from "../src/http/duplicate-keys";

describe("findDuplicateKey", () => {
  it.each([
    ['{"name":"a","name":"b"}', "name"],
    ['{"a":1,"\\u0061":2}', "a"],
    ['{"x":{"y":1,"y":2}}', "y"],
    ['[{"k":1},{"k":1,"k":2}]', "k"],
    ['{"a":[1,{"b":2}],"a":3}', "a"],
    ['{ "s" : "}{\\",\\"s\\":" , "s" : 1 }', "s"],
    ['{"\\\\":1,"\\\\":2}', "\\"],
    ['{"":1,"":2}', ""],
  ])("finds the repeated key in %s", (text, key) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findDuplicateKey(text)).toBe(key);
  });

  it.each([
    '{"name":"a"}',
    '{"a":{"a":{"a":1}}}',
    '[{"k":1},{"k":2}]',
    '{"a\\\\":1,"a":2}',
    '{"a":"\\"a\\":1","b":["a","a"]}',
    '{"a":1,"A":2}',
    '"{\\"a\\":1,\\"a\\":2}"',
    "[]",
    "{}",
    "null",
  ])("finds none in %s", (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findDuplicateKey(text)).toBeUndefined();
  });

  it("survives nesting far deeper than a call stack", () => {
    const deep = "[".repeat(50_000) + '{"a":1,"a":2}' + "]".repeat(50_000);
    expect(findDuplicateKey(deep)).toBe("a");
  });

  it("finds none in any JSON that JSON.stringify wrote (its objects cannot repeat a key)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
        expect(findDuplicateKey(JSON.stringify(value, null, pretty ? 2 : undefined))).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("finds a key repeated in any object, however the JSON around it looks", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }),
        fc.jsonValue(),
        fc.nat(),
        fc.jsonValue(),
        (obj, extra, pick, wrapper) => {
          const keys = Object.keys(obj);
          const key = keys[pick % keys.length];
          // Append the repeat as raw text: JSON.stringify could never write it.
          const body = JSON.stringify(obj);
          const repeated = `${body.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(extra)}}`;
          const text = `[${JSON.stringify(wrapper)},${repeated}]`;
          expect(() => JSON.parse(text)).not.toThrow();
          const found = findDuplicateKey(text);
          expect(found).toBeDefined();
          // `wrapper` comes first in document order but, written by JSON.stringify, repeats nothing.
          expect(found).toBe(key);
        },
      ),
      { numRuns: 500 },
    );
  });
});
