'use strict';
/* Test doubles for what Talk itself provides (its users service, its logger) and tiny
 * loopback HTTP servers that misbehave on purpose. */
const http = require('http');

function fakeUsers() {
  const created = [];
  return {
    created: created,
    async upsertExternalUser(ctx, id, provider, displayName) {
      const user = {
        id: id,
        username: displayName,
        profiles: [{ id: id, provider: provider }],
        metadata: { displayName: displayName },
        saves: 0,
        async save() { this.saves += 1; return this; }
      };
      created.push({ ctx: ctx, id: id, provider: provider, displayName: displayName, user: user });
      return user;
    }
  };
}

function memoryLogger() {
  const lines = [];
  return {
    lines: lines,
    warn: function (message) { lines.push('warn ' + message); },
    error: function (message) { lines.push('error ' + message); }
  };
}

/** Start `handler` on a free loopback port; resolves {url, close}. */
function serve(handler) {
  return new Promise(function (resolve) {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', function () {
      const port = server.address().port;
      resolve({
        url: 'http://127.0.0.1:' + port + '/talk/user',
        close: function () {
          if (server.closeAllConnections) { server.closeAllConnections(); }
          return new Promise(function (done) { server.close(function () { done(); }); });
        }
      });
    });
  });
}

/** A loopback URL where nothing listens (the port was just freed). */
async function deadUrl() {
  const server = await serve(function () {});
  await server.close();
  return server.url;
}

function claimsOf(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(Buffer.from(part, 'base64').toString('utf8'));
}

module.exports = { fakeUsers: fakeUsers, memoryLogger: memoryLogger, serve: serve, deadUrl: deadUrl, claimsOf: claimsOf };
