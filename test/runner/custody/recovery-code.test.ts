import t from 'tap';
import { formatRecoveryCode, newRecoveryCode, normalizeRecoveryCode, RecoveryCodeError } from '../../../runner/custody/recovery-code.js';

t.test('a new code is nine groups of four from the sheet alphabet, and fresh each time', async (t) => {
  const code = newRecoveryCode();
  t.match(code, /^(?:[0-9A-HJKMNP-TV-Z]{4}-){8}[0-9A-HJKMNP-TV-Z]{4}$/);
  t.not(newRecoveryCode(), code);
  t.equal(normalizeRecoveryCode(code), code);
});

t.test('what a customer types is read leniently: case, spaces, dashes, O for 0, I and L for 1', async (t) => {
  const code = formatRecoveryCode(Buffer.alloc(20, 0));
  t.equal(code.slice(0, 4), '0000');
  const typed = code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
  t.equal(normalizeRecoveryCode(typed), code);
  const ones = formatRecoveryCode(Buffer.from('0842108421084210842108421084210842108421', 'hex'));
  t.equal(normalizeRecoveryCode(ones.replace(/1/g, 'l')), ones);
});

t.test('a typo is caught by the check group before any key derivation', async (t) => {
  const code = formatRecoveryCode(Buffer.alloc(20, 0xab));
  const typo = (code[0] === 'Z' ? 'Y' : 'Z') + code.slice(1);
  t.throws(() => normalizeRecoveryCode(typo), { name: 'RecoveryCodeError', code: 'ERECOVERY_CODE', message: /typo/ });
  t.throws(() => normalizeRecoveryCode('ABCD'), { code: 'ERECOVERY_CODE', message: /36 characters .* got 4/ });
  t.throws(() => normalizeRecoveryCode(`U${code.slice(1)}`), { code: 'ERECOVERY_CODE', message: /character 1 is not/ });
  t.throws(() => formatRecoveryCode(Buffer.alloc(3)), RecoveryCodeError);
});
