import t from 'tap';
import { Backoff, backoffDelay } from '../../../runner/hub/backoff.js';

t.test('the ceiling doubles per attempt from the base up to the cap', async (t) => {
  const almostOne = () => 0.999999;
  const delays = Array.from({ length: 8 }, (_, attempt) => backoffDelay(attempt, { baseMs: 100, capMs: 5000, random: almostOne }));
  t.same(delays, [99, 199, 399, 799, 1599, 3199, 4999, 4999]);
});

t.test('full jitter: the delay is random * ceiling, down to zero', async (t) => {
  t.equal(backoffDelay(3, { baseMs: 100, capMs: 5000, random: () => 0 }), 0);
  t.equal(backoffDelay(3, { baseMs: 100, capMs: 5000, random: () => 0.5 }), 400);
});

t.test('huge attempt numbers stay at the cap instead of overflowing', async (t) => {
  t.equal(backoffDelay(5000, { baseMs: 1000, capMs: 60_000, random: () => 0.5 }), 30_000);
});

t.test('the defaults are a 1 s base and a 5 minute cap', async (t) => {
  t.equal(backoffDelay(0, { random: () => 0.5 }), 500);
  t.equal(backoffDelay(20, { random: () => 0.5 }), 150_000);
});

t.test('Backoff counts failures and starts over after reset', async (t) => {
  const backoff = new Backoff({ baseMs: 10, capMs: 1000, random: () => 0.5 });
  t.same([backoff.next(), backoff.next(), backoff.next()], [5, 10, 20]);
  t.equal(backoff.attempt, 3);
  backoff.reset();
  t.equal(backoff.next(), 5);
});
