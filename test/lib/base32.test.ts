// Base32 over a caller's alphabet: RFC 4648's test vectors (without padding) with its own alphabet.
import t from 'tap';
import { base32 } from '../../lib/base32.js';

const RFC4648 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

t.test("RFC 4648's vectors", async (t) => {
  const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
  for (const [input, output] of vectors) t.equal(base32(Buffer.from(input), RFC4648), output, JSON.stringify(input));
});

t.test('another alphabet maps the same bits', async (t) => {
  t.equal(base32(Buffer.from('foobar'), RFC4648.toLowerCase()), 'mzxw6ytboi');
});

t.test('an alphabet that is not 32 characters is refused', async (t) => {
  t.throws(() => base32(Buffer.from('x'), 'abc'), { name: 'RangeError', message: /32 characters, has 3/ });
});
