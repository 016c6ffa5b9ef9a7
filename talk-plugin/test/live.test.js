'use strict';
/* The hook against a live flask-talk site (tests/test_plugin.py starts the demo on a free
 * loopback port and passes its URL and tokens it minted):
 *   FLASK_TALK_TEST_USER_URL       http://127.0.0.1:<port>/talk/user
 *   FLASK_TALK_TEST_KNOWN_TOKEN    a token for a reader the site has
 *   FLASK_TALK_TEST_UNKNOWN_TOKEN  a valid token for a reader the site does not have
 *   FLASK_TALK_TEST_SLOW_URL       optional: the same site behind a delay (else a local stall)
 *   FLASK_TALK_TEST_REQUIRE_LIVE=1 fail instead of skipping when these are missing */
const test = require('node:test');
const assert = require('node:assert');
const h = require('../test-helpers');
const createTokenUserNotFound = require('../lib/hook').createTokenUserNotFound;

const env = process.env;
const live = Boolean(env.FLASK_TALK_TEST_USER_URL && env.FLASK_TALK_TEST_KNOWN_TOKEN && env.FLASK_TALK_TEST_UNKNOWN_TOKEN);
const options = live ? {} : { skip: 'no live flask-talk site (run tests/test_plugin.py)' };

if (!live && env.FLASK_TALK_TEST_REQUIRE_LIVE) {
  test('the live flask-talk site is configured', () => {
    assert.fail('FLASK_TALK_TEST_USER_URL / _KNOWN_TOKEN / _UNKNOWN_TOKEN are not set');
  });
}

function hook(extra) {
  const users = h.fakeUsers();
  const logger = h.memoryLogger();
  const fn = createTokenUserNotFound(Object.assign({
    url: env.FLASK_TALK_TEST_USER_URL, timeoutMs: 5000, users: users, logger: logger
  }, extra || {}));
  return { fn: fn, users: users, logger: logger };
}

test('live: a known reader becomes a Talk user with the site\'s id, name and e-mail', options, async () => {
  const token = env.FLASK_TALK_TEST_KNOWN_TOKEN;
  const jwt = h.claimsOf(token);
  const t = hook();
  const user = await t.fn({ jwt: jwt, token: token });
  assert.deepStrictEqual(t.logger.lines, []);
  assert.ok(user, 'a user was created');
  assert.strictEqual(user.id, jwt.sub);
  assert.deepStrictEqual(t.users.created.map((c) => [c.id, c.provider, c.displayName]),
    [[jwt.sub, jwt.iss, jwt.username]]);
  assert.deepStrictEqual(user.profiles[1], { provider: 'local', id: jwt.email });
});

test('live: a valid token for a reader the site no longer has -> 404 -> null', options, async () => {
  const token = env.FLASK_TALK_TEST_UNKNOWN_TOKEN;
  const t = hook();
  assert.strictEqual(await t.fn({ jwt: h.claimsOf(token), token: token }), null);
  assert.strictEqual(t.users.created.length, 0);
  assert.deepStrictEqual(t.logger.lines, []);
});

test('live: a token the site refuses (tampered signature) -> logged, null', options, async () => {
  const good = env.FLASK_TALK_TEST_KNOWN_TOKEN;
  const token = good.slice(0, -4) + (good.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA');
  const t = hook();
  assert.strictEqual(await t.fn({ jwt: h.claimsOf(token), token: token }), null);
  assert.match(t.logger.lines.join('\n'), /refused the token \(401/);
});

test('live: the site is down -> logged, null', options, async () => {
  const t = hook({ url: await h.deadUrl() });
  const token = env.FLASK_TALK_TEST_KNOWN_TOKEN;
  assert.strictEqual(await t.fn({ jwt: h.claimsOf(token), token: token }), null);
  assert.match(t.logger.lines.join('\n'), /ECONNREFUSED/);
});

test('live: the site is too slow -> timeout, logged, null', options, async () => {
  const slow = env.FLASK_TALK_TEST_SLOW_URL ? { url: env.FLASK_TALK_TEST_SLOW_URL, close: async () => {} }
    : await h.serve(function () { /* holds the request, like an overloaded site */ });
  try {
    const t = hook({ url: slow.url, timeoutMs: 250 });
    const token = env.FLASK_TALK_TEST_KNOWN_TOKEN;
    assert.strictEqual(await t.fn({ jwt: h.claimsOf(token), token: token }), null);
    assert.match(t.logger.lines.join('\n'), /timed out after 250 ms/);
  } finally { await slow.close(); }
});
