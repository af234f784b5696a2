import t from 'tap';
import { calendarEventMessage, calendarEventProblem } from '../../components/calendar-event.js';
import { countryHint, isCountryCode, ISO_3166_1_ALPHA_2 } from '../../components/countries.js';
import { gatewayProblem, storagePathProblem } from '../../components/validation.js';

t.test('calendar events Proxmox accepts (the grammar of proxmox-time)', async (t) => {
  for (const event of [
    '*-*-* 02:30', 'sun 03:00', 'mon..fri 02:00', 'sat 4:15', 'mon,wed,fri 23:59', '*/15', '0/20', '15', '*:0/30', '8..18/2:00',
    '*-*-01 03:00', '2026-01-01', '*-01,04,07,10-01 00:00', 'daily', 'hourly', 'weekly', 'monthly', 'yearly', 'annually', 'quarterly',
    'semiannually', 'semi-annually', 'minutely', '*-*-* 02:30:15', 'tue..thu', '  daily  ',
  ]) {
    t.equal(calendarEventProblem(event), undefined, event);
  }
});

t.test('calendar events Proxmox refuses, each with the reason', async (t) => {
  const refused: [unknown, RegExp][] = [
    ['30 2 * * *', /cron line/],
    ['every night', /"every" is not a weekday/],
    ['*-*-* 25:61', /hour 25 is outside 0\.\.23/],
    ['*-*-* 02:61', /minute 61 is outside 0\.\.59/],
    ['*-13-01', /month 13 is outside 1\.\.12/],
    ['*-*-32', /day 32 is outside 1\.\.31/],
    ['mon..funday', /not a weekday/],
    ['5..1', /ends before it starts/],
    ['*/0', /repetition of 0/],
    ['*..5', /a range starts with a number/],
    ['1-2-3-4', /not a date/],
    ['1:2:3:4', /not a time/],
    ['02:', /an empty minute/],
    ['', /empty/],
    ['x'.repeat(129), /longer than 128/],
    [42, /not a string/],
    ['2026-01-01 03:00 extra', /unexpected "extra" after the time/],
    ['Mon 03:00', /neither a weekday, a date nor a time|"Mon" is not/],
  ];
  for (const [event, reason] of refused) t.match(calendarEventProblem(event), reason, String(event));
  t.match(calendarEventMessage('30 2 * * *', 'why'), /^expected a Proxmox calendar event .* \(why\), got "30 2 \* \* \*"$/);
  t.match(calendarEventMessage(42, 'why'), /got 42$/);
});

t.test('countries: the 249 officially assigned ISO 3166-1 alpha-2 codes, plus XK', async (t) => {
  t.equal(ISO_3166_1_ALPHA_2.length, 249);
  t.equal(new Set(ISO_3166_1_ALPHA_2).size, 249);
  for (const code of ['HU', 'AT', 'DE', 'GB', 'US', 'XK', 'AX', 'SS']) t.ok(isCountryCode(code), code);
  for (const code of ['UK', 'ZZ', 'EU', 'EL', 'T1', 'hu', 'XX', 42]) t.notOk(isCountryCode(code), String(code));
  t.equal(countryHint('UK'), 'the United Kingdom is GB');
  t.equal(countryHint('ZZ'), 'not an assigned ISO 3166-1 alpha-2 code');
});

t.test('a gateway belongs inside the guest network, and is neither its own, the network nor the broadcast address', async (t) => {
  t.equal(gatewayProblem('192.168.1.50/24', '192.168.1.1'), undefined);
  t.equal(gatewayProblem('10.1.2.3/8', '10.255.0.1'), undefined);
  t.match(gatewayProblem('192.168.1.50/24', '192.168.2.1'), /outside the guest's network 192\.168\.1\.0\/24/);
  t.match(gatewayProblem('192.168.1.50/24', '192.168.1.50'), /guest's own address/);
  t.match(gatewayProblem('192.168.1.50/24', '192.168.1.0'), /network address of 192\.168\.1\.0\/24/);
  t.match(gatewayProblem('192.168.1.50/24', '192.168.1.255'), /broadcast address/);
  t.match(gatewayProblem('192.168.1.0/24', '192.168.1.1'), /the address 192\.168\.1\.0 is the network address/);
  t.match(gatewayProblem('192.168.1.50/31', '192.168.1.51'), /no room for a gateway/);
  t.equal(gatewayProblem('not/24', '192.168.1.1'), undefined, 'a malformed address is the format rule\'s to report');
});

t.test('storage paths: under /mnt, /media or /srv, never a system directory or a climb out', async (t) => {
  for (const path of ['/mnt/felhom/usb1', '/media/usb', '/srv/backup', '/mnt/a/']) t.equal(storagePathProblem(path), undefined, path);
  t.match(storagePathProblem('/etc'), /not a system directory/);
  t.match(storagePathProblem('/var/lib/vz'), /not a system directory/);
  t.match(storagePathProblem('/mnt'), /not a system directory/);
  t.match(storagePathProblem('/mnt/../etc'), /"\.\." segments/);
  t.match(storagePathProblem('mnt/usb'), /absolute path/);
});
