/**
 * Base32 without padding (RFC 4648's bit order) over a caller's alphabet of 32 characters: the
 * enrollment code's secret and the customer's recovery code are written with it. A last group of
 * fewer than five bits is padded with zero bits.
 */
export function base32(bytes: Uint8Array, alphabet: string): string {
  if (alphabet.length !== 32) throw new RangeError(`base32: the alphabet must have 32 characters, has ${alphabet.length}`);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
