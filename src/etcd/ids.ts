// Member and cluster IDs are unsigned 64-bit integers. etcdctl shows them three ways: as bare JSON numbers (decimal,
// beyond Number's precision), as hex strings (3.5 `member list --hex -w json`), and as hex in its tables and in etcd's
// logs. Everything in etcd-deploy holds an ID in one canonical form, so IDs from any source compare with `===`.
//
// Canonical form: lowercase hex, no `0x`, no zero padding. That is exactly what etcd itself prints everywhere
// (Go `strconv.FormatUint(id, 16)`: `member list` tables, `--hex` JSON, `member add` output, server logs), so an
// operator can grep logs for what the tool prints. (Zero padding would make a rare ID with a leading 0 nibble
// differ from etcd's own spelling of it.)

/** A member or cluster ID in canonical form, e.g. `b6f4dc55438cf618`. */
export type EtcdId = string;

const MAX_U64 = (1n << 64n) - 1n;
const DECIMAL = /^[0-9]+$/;
const HEX = /^(?:0x)?([0-9a-f]+)$/i;

/** Format a 64-bit ID in canonical form. */
export function formatId(id: bigint): EtcdId {
  if (id < 0n || id > MAX_U64) throw new RangeError(`etcd ID out of the unsigned 64-bit range: ${id}`);
  return id.toString(16);
}

/** The ID as a BigInt, e.g. for comparison with decimal text such as `memberID:<decimal>` in alarm strings. */
export function idToBigInt(id: EtcdId): bigint {
  return parseIdString(id, 16);
}

/** Decimal spelling of an ID, as etcdctl's plain `-w json` prints it. */
export function idToDecimal(id: EtcdId): string {
  return idToBigInt(id).toString(10);
}

/**
 * Normalise an ID to canonical form.
 *
 * - `bigint`, or a safe-integer `number` (what src/etcd/json.ts yields for JSON numbers): taken as the value.
 * - `string` with `radix` 10 or 16: read in that radix (`0x` allowed for 16).
 * - `string` with `radix` 'auto' (the default): `0x` prefix or a letter a-f means hex; all digits and longer than 16
 *   means decimal (no 64-bit value has more than 16 hex digits). All digits and 16 or fewer is ambiguous (the hex
 *   ID `3152306465432715` is a plausible decimal too) and throws rather than guess: misreading an ID could point a
 *   `member remove` at the wrong member. Callers that know the source pass the radix.
 *
 * Throws RangeError for anything that is not an unsigned 64-bit integer.
 */
export function normalizeId(input: string | number | bigint, radix: 10 | 16 | 'auto' = 'auto'): EtcdId {
  if (typeof input === 'bigint') return formatId(input);
  if (typeof input === 'number') {
    // A number past 2^53 has already been rounded by whoever parsed it: refuse it rather than return a wrong ID.
    if (!Number.isSafeInteger(input)) {
      throw new RangeError(`etcd ID ${input} is not an exact integer (parse etcdctl JSON with src/etcd/json.ts)`);
    }
    return formatId(BigInt(input));
  }
  return formatId(parseIdString(input.trim(), radix));
}

function parseIdString(text: string, radix: 10 | 16 | 'auto'): bigint {
  const bad = (why: string): never => {
    throw new RangeError(`not an etcd ID: ${JSON.stringify(text)} (${why})`);
  };
  if (text === '') return bad('empty');
  let base = radix;
  if (base === 'auto') {
    if (DECIMAL.test(text)) {
      if (text.length <= 16) return bad('all digits: decimal or hex is ambiguous, pass the radix');
      base = 10;
    } else {
      base = 16;
    }
  }
  let value: bigint;
  if (base === 10) {
    if (!DECIMAL.test(text)) return bad('expected decimal digits');
    value = BigInt(text);
  } else {
    const m = HEX.exec(text);
    if (!m) return bad('expected hex digits');
    value = BigInt(`0x${m[1] as string}`);
  }
  if (value > MAX_U64) return bad('larger than 64 bits');
  return value;
}
