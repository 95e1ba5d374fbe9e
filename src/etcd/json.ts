// A JSON parser that keeps big integers exact. etcdctl prints 64-bit member and cluster IDs as bare JSON numbers, and
// JSON.parse rounds anything beyond 2^53 (13183404267983926808 becomes 13183404267983927000). Node 20 has no reviver
// access to the source text, so this small recursive-descent parser returns such integers as BigInt instead.
// It is for etcdctl's small one-line outputs: clarity over speed.

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/** Syntax error with the character offset where parsing stopped. */
export class JsonSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

// Deep nesting only comes from garbage; stop before the stack does.
const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WS = new Set([' ', '\t', '\n', '\r']);

/**
 * Parse JSON text. Integer literals that are not safe JavaScript integers come back as `bigint`; every other number
 * is a `number`, so small values (terms, indexes, sizes) stay ordinary numbers. Strings, arrays and objects are as
 * JSON.parse gives them.
 */
export function parseJson(text: string): JsonValue {
  let pos = 0;

  const fail = (message: string): never => {
    throw new JsonSyntaxError(message, pos);
  };
  const skipWs = (): void => {
    while (pos < text.length && WS.has(text[pos] as string)) pos++;
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(`expected '${ch}' but found ${describe(text[pos])}`);
    pos++;
  };

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    while (pos < text.length) {
      const ch = text.charCodeAt(pos);
      if (ch === 0x22) {
        pos++;
        // The literal is scanned and well-delimited; JSON.parse decodes (and validates) its escapes exactly.
        try {
          return JSON.parse(text.slice(start, pos)) as string;
        } catch {
          pos = start;
          return fail('invalid escape in string');
        }
      }
      if (ch === 0x5c) pos += 2;
      else if (ch < 0x20) return fail('control character in string');
      else pos++;
    }
    pos = start;
    return fail('unterminated string');
  };

  const parseNumber = (): number | bigint => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) return fail(`unexpected ${describe(text[pos])}`);
    const literal = m[0];
    pos += literal.length;
    const n = Number(literal);
    const isInteger = m[1] === undefined && m[2] === undefined;
    return isInteger && !Number.isSafeInteger(n) ? BigInt(literal) : n;
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipWs();
    const ch = text[pos];
    switch (ch) {
      case '{':
        return parseObject(depth);
      case '[':
        return parseArray(depth);
      case '"':
        return parseString();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      default:
        if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return parseNumber();
        return fail(`unexpected ${describe(ch)}`);
    }
  };

  const literal = <T extends JsonValue>(word: string, value: T): T => {
    if (!text.startsWith(word, pos)) fail(`unexpected ${describe(text[pos])}`);
    pos += word.length;
    return value;
  };

  const parseArray = (depth: number): JsonValue[] => {
    pos++;
    const out: JsonValue[] = [];
    skipWs();
    if (text[pos] === ']') {
      pos++;
      return out;
    }
    for (;;) {
      out.push(parseValue(depth + 1));
      skipWs();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      expect(']');
      return out;
    }
  };

  const parseObject = (depth: number): { [key: string]: JsonValue } => {
    pos++;
    const out: { [key: string]: JsonValue } = {};
    skipWs();
    if (text[pos] === '}') {
      pos++;
      return out;
    }
    for (;;) {
      skipWs();
      if (text[pos] !== '"') fail(`expected a property name but found ${describe(text[pos])}`);
      const key = parseString();
      skipWs();
      expect(':');
      const value = parseValue(depth + 1);
      // defineProperty, not assignment: a key named "__proto__" must become data, as with JSON.parse.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      skipWs();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      expect('}');
      return out;
    }
  };

  const value = parseValue(0);
  skipWs();
  if (pos < text.length) fail(`unexpected ${describe(text[pos])} after the JSON value`);
  return value;
}

function describe(ch: string | undefined): string {
  return ch === undefined ? 'end of input' : JSON.stringify(ch);
}
