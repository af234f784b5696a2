/**
 * The structure of an ASCII-armoured OpenPGP message (RFC 9580 §6), checked without a key: the
 * header line, optional armour headers, a blank line, base64 data that starts with an OpenPGP
 * packet, an optional `=` checksum, the footer. A value that passes this was at least produced
 * by an OpenPGP implementation; whether the agent can decrypt it is only known on the box.
 */
const BEGIN = '-----BEGIN PGP MESSAGE-----';
const END = '-----END PGP MESSAGE-----';

/** Why `text` is not an armoured OpenPGP message, or undefined. */
export function armourProblem(text: string): string | undefined {
  const lines = text.trim().split(/\r?\n/).map((line) => line.trimEnd());
  if (lines[0] !== BEGIN || lines.at(-1) !== END) return `expected an armoured OpenPGP message between "${BEGIN}" and "${END}"`;
  let index = 1;
  while (index < lines.length - 1 && /^[A-Za-z][A-Za-z-]*: /.test(lines[index]!)) index += 1; // armour headers (Version:, Comment:)
  if (lines[index] !== '') return 'expected a blank line after the armour header (the message was edited or cut)';
  let body = lines.slice(index + 1, -1);
  if (body.length > 0 && /^=[A-Za-z0-9+/]{4}$/.test(body.at(-1)!)) body = body.slice(0, -1); // CRC-24 checksum
  const data = body.join('');
  if (data === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) return 'expected base64 data in the armoured message (the message was edited or cut)';
  const first = Buffer.from(data.slice(0, 4), 'base64')[0]!;
  // Every OpenPGP packet header has its top bit set; an encrypted message starts with a PKESK or SKESK packet.
  if ((first & 0x80) === 0) return 'the armoured data does not start with an OpenPGP packet';
  return undefined;
}
