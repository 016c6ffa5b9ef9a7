'use strict';
/* GET the site's /talk/user with the reader's token, with a hard deadline.
 * Core http/https only (Talk 4 runs on Node 8, which has no fetch). Never rejects:
 * every outcome, including timeouts and network errors, is an answer object. */
const http = require('http');
const https = require('https');
const URL = require('url').URL;

const MAX_BYTES = 64 * 1024;

function stop(request) {
  if (typeof request.destroy === 'function') { request.destroy(); } else { request.abort(); }
}

function requestOptions(target, token) {
  return {
    protocol: target.protocol,
    hostname: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port || undefined,
    path: target.pathname + target.search,
    method: 'GET',
    headers: {
      Authorization: 'Bearer ' + token,
      Accept: 'application/json',
      'User-Agent': 'talk-plugin-flask-talk'
    }
  };
}

/**
 * lookupUser(url, token, timeoutMs) -> Promise of
 *   {kind: 'user', status: 200, body} | {kind: 'not_found', status: 404}
 *   | {kind: 'refused', status, body} (4xx) | {kind: 'error', status?, reason}
 */
function lookupUser(url, token, timeoutMs) {
  return new Promise(function (resolve) {
    let target;
    try {
      target = new URL(url);
    } catch (e) {
      resolve({ kind: 'error', reason: 'the lookup URL is not a valid URL' });
      return;
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      resolve({ kind: 'error', reason: 'the lookup URL must be http(s)' });
      return;
    }
    let finished = false;
    let request = null;
    const timer = setTimeout(function () {
      finish({ kind: 'error', reason: 'timed out after ' + timeoutMs + ' ms' });
      if (request) { stop(request); }
    }, timeoutMs);

    function finish(answer) {
      if (finished) { return; }
      finished = true;
      clearTimeout(timer);
      resolve(answer);
    }

    function onResponse(response) {
      const status = response.statusCode;
      const chunks = [];
      let size = 0;
      response.on('data', function (chunk) {
        size += chunk.length;
        if (size > MAX_BYTES) {
          finish({ kind: 'error', status: status, reason: 'the answer is larger than ' + MAX_BYTES + ' bytes' });
          stop(request);
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', function (error) {
        finish({ kind: 'error', status: status, reason: error.code || error.message });
      });
      response.on('end', function () {
        let body = null;
        try {
          body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
        } catch (e) {
          body = undefined;
        }
        if (status === 200) {
          if (body === undefined || body === null) {
            finish({ kind: 'error', status: status, reason: 'the answer is not JSON' });
          } else {
            finish({ kind: 'user', status: status, body: body });
          }
        } else if (status === 404) {
          finish({ kind: 'not_found', status: status });
        } else if (status >= 400 && status < 500) {
          finish({ kind: 'refused', status: status, body: body || null });
        } else {
          finish({ kind: 'error', status: status, reason: 'the site answered ' + status });
        }
      });
    }

    const client = target.protocol === 'https:' ? https : http;
    try {
      request = client.request(requestOptions(target, token), onResponse);
    } catch (e) {
      finish({ kind: 'error', reason: e.code || e.message });
      return;
    }
    request.on('error', function (error) {
      finish({ kind: 'error', reason: error.code || error.message });
    });
    request.end();
  });
}

module.exports = { lookupUser: lookupUser, MAX_BYTES: MAX_BYTES };
