'use strict';
/* The hook against misbehaving servers on loopback: not found, errors, slow, down. */
const test = require('node:test');
const assert = require('node:assert');
const h = require('../test-helpers');
const createTokenUserNotFound = require('../lib/hook').createTokenUserNotFound;

const JWT = { sub: 'reader-alice', iss: 'https://news.example/', username: 'alice', email: 'alice@example.org' };
const TOKEN = 'aaa.bbb.ccc';

function hook(url, extra) {
  const users = h.fakeUsers();
  const logger = h.memoryLogger();
  const fn = createTokenUserNotFound(Object.assign({ url: url, timeoutMs: 300, users: users, logger: logger }, extra || {}));
  return { fn: fn, users: users, logger: logger };
}

function json(status, body) {
  return function (req, res) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

test('a 200 answer creates the Talk user the way Talk expects and sends the token as Bearer', async () => {
  let seen = null;
  const server = await h.serve(function (req, res) {
    seen = req.headers.authorization;
    json(200, { id: 'reader-alice', username: 'alice', email: 'Alice@Example.org' })(req, res);
  });
  try {
    const t = hook(server.url);
    const user = await t.fn({ jwt: JWT, token: TOKEN });
    assert.strictEqual(seen, 'Bearer ' + TOKEN);
    assert.strictEqual(user.id, 'reader-alice');
    assert.deepStrictEqual(t.users.created.map((c) => [c.ctx, c.id, c.provider, c.displayName]),
      [[null, 'reader-alice', 'https://news.example/', 'alice']]);
    assert.deepStrictEqual(user.profiles, [{ id: 'reader-alice', provider: 'https://news.example/' },
      { provider: 'local', id: 'alice@example.org' }]);
    assert.strictEqual(user.saves, 1);
    assert.deepStrictEqual(t.logger.lines, []);
  } finally { await server.close(); }
});

test('a custom user-id claim and provider are honoured', async () => {
  const server = await h.serve(json(200, { id: 'u-7', username: 'zoe' }));
  try {
    const t = hook(server.url, { userIdClaim: 'user.id', provider: 'news-site' });
    const user = await t.fn({ jwt: { user: { id: 'u-7' } }, token: TOKEN });
    assert.strictEqual(user.id, 'u-7');
    assert.strictEqual(t.users.created[0].provider, 'news-site');
    assert.strictEqual(user.saves, 0, 'no e-mail, nothing more to save');
  } finally { await server.close(); }
});

test('404 (no such user on the site) returns null quietly', async () => {
  const server = await h.serve(json(404, { error: 'not_found' }));
  try {
    const t = hook(server.url);
    assert.strictEqual(await t.fn({ jwt: JWT, token: TOKEN }), null);
    assert.strictEqual(t.users.created.length, 0);
    assert.deepStrictEqual(t.logger.lines, []);
  } finally { await server.close(); }
});

test('5xx, 401, redirects, non-JSON and mismatched ids log and return null', async () => {
  const cases = [
    [json(503, { error: 'temporarily_unavailable' }), /answered 503/],
    [json(401, { error: 'invalid_token', error_description: 'the signature does not verify' }), /check-env/],
    [function (req, res) { res.writeHead(302, { Location: 'https://elsewhere/' }); res.end(); }, /answered 302/],
    [function (req, res) { res.writeHead(200); res.end('<html>'); }, /not JSON/],
    [json(200, { id: 'somebody-else', username: 'mallory' }), /different user id/]
  ];
  for (const [handler, message] of cases) {
    const server = await h.serve(handler);
    try {
      const t = hook(server.url);
      assert.strictEqual(await t.fn({ jwt: JWT, token: TOKEN }), null);
      assert.strictEqual(t.users.created.length, 0);
      assert.match(t.logger.lines.join('\n'), message);
      assert.ok(!t.logger.lines.join('\n').includes(TOKEN), 'the token is never logged');
    } finally { await server.close(); }
  }
});

test('a slow server times out: null, logged, within the configured timeout', async () => {
  const server = await h.serve(function () { /* never answers */ });
  try {
    const t = hook(server.url, { timeoutMs: 200 });
    const user = await t.fn({ jwt: JWT, token: TOKEN });
    assert.strictEqual(user, null);
    assert.match(t.logger.lines.join('\n'), /timed out after 200 ms/);
  } finally { await server.close(); }
});

test('a server that is down: null, logged', async () => {
  const t = hook(await h.deadUrl());
  assert.strictEqual(await t.fn({ jwt: JWT, token: TOKEN }), null);
  assert.match(t.logger.lines.join('\n'), /ECONNREFUSED/);
});

test('no URL configured: null and one log line, however often it is called', async () => {
  const t = hook('');
  assert.strictEqual(await t.fn({ jwt: JWT, token: TOKEN }), null);
  assert.strictEqual(await t.fn({ jwt: JWT, token: TOKEN }), null);
  assert.strictEqual(t.logger.lines.length, 1);
  assert.match(t.logger.lines[0], /TALK_FLASK_TALK_USER_URL/);
});

test('a failing users service does not crash Talk', async () => {
  const server = await h.serve(json(200, { id: 'reader-alice', username: 'alice' }));
  try {
    const logger = h.memoryLogger();
    const fn = createTokenUserNotFound({
      url: server.url, timeoutMs: 300, logger: logger,
      users: { upsertExternalUser: async () => { throw new Error('mongo is down'); } }
    });
    assert.strictEqual(await fn({ jwt: JWT, token: TOKEN }), null);
    assert.match(logger.lines.join('\n'), /mongo is down/);
  } finally { await server.close(); }
});

test('the e-mail profile failing to save keeps the created user', async () => {
  const server = await h.serve(json(200, { id: 'reader-alice', username: 'alice', email: 'a@example.org' }));
  try {
    const logger = h.memoryLogger();
    const fn = createTokenUserNotFound({
      url: server.url, timeoutMs: 300, logger: logger,
      users: { upsertExternalUser: async (ctx, id) => ({ id: id, profiles: [], save: async () => { throw new Error('duplicate key'); } }) }
    });
    const user = await fn({ jwt: JWT, token: TOKEN });
    assert.strictEqual(user.id, 'reader-alice');
    assert.deepStrictEqual(user.profiles, []);
    assert.match(logger.lines.join('\n'), /duplicate key/);
  } finally { await server.close(); }
});

test('the package is a Talk plugin exporting tokenUserNotFound', () => {
  const plugin = require('..');
  assert.deepStrictEqual(Object.keys(plugin), ['tokenUserNotFound']);
  assert.strictEqual(typeof plugin.tokenUserNotFound, 'function');
  assert.strictEqual(require('../package.json').main, 'index.js');
});

test('the shipped code sticks to what Node 8 (Talk 4\'s runtime) understands', () => {
  const fs = require('fs');
  const path = require('path');
  const root = path.join(__dirname, '..');
  const files = ['index.js'].concat(fs.readdirSync(path.join(root, 'lib')).map((f) => path.join('lib', f)));
  const newer = [
    [/\?\./, 'optional chaining (Node 14)'],
    [/\?\?/, 'nullish coalescing (Node 14)'],
    [/catch\s*\{/, 'optional catch binding (Node 10)'],
    [/\bfetch\s*\(/, 'fetch (Node 18)'],
    [/^\s*import\s/m, 'ES modules'],
    [/\{\s*\.\.\./, 'object spread (Node 8.3+, behind a flag before)'],
    [/require\(['"]node:/, 'node: specifiers (Node 14.18)']
  ];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    for (const [pattern, what] of newer) {
      assert.ok(!pattern.test(text), file + ' uses ' + what);
    }
    assert.match(text, /^'use strict';/, file + ' is a strict CommonJS module');
  }
});
