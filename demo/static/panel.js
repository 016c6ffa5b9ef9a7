/* The demo's QA token panel. It shows the token the page holds (decoded header and claims,
 * never the signature), a live countdown to expiry, what the Talk stand-in answered and
 * what /talk/user answered, and offers the scenarios QA asks for: renew, tamper, revoke,
 * call /talk/user. It listens to flask-talk's loader events (talk:ready, talk:token,
 * talk:logout, talk:error) and the stand-in's standin:auth reports. */
(function () {
  'use strict';
  var panel = document.getElementById('qa-panel');
  if (!panel) { return; }
  var $ = function (id) { return panel.querySelector('[data-testid="' + id + '"]'); };
  var current = null;
  var renewals = 0;

  function decodePart(part) {
    var b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var bytes = atob(b64);
    var text = decodeURIComponent(Array.prototype.map.call(bytes, function (c) {
      return '%' + ('00' + c.charCodeAt(0).toString(16)).slice(-2);
    }).join(''));
    return JSON.parse(text);
  }
  function encodePart(value) {
    var bytes = unescape(encodeURIComponent(JSON.stringify(value)));
    return btoa(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function claimsOf(token) {
    try { return decodePart(token.split('.')[1]); } catch (e) { return null; }
  }
  function json(value) { return JSON.stringify(value, null, 2); }
  function set(id, text) { $(id).textContent = text; }

  function log(line) {
    var item = document.createElement('li');
    item.textContent = new Date().toLocaleTimeString() + ' · ' + line;
    var list = $('qa-log');
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 30) { list.removeChild(list.lastChild); }
  }

  function show(token) {
    current = token;
    if (!token) {
      set('qa-header', 'none'); set('qa-claims', 'none'); set('qa-jti', 'no token');
      set('qa-countdown', 'no token');
      enableScenarios();
      return;
    }
    var parts = token.split('.');
    try {
      set('qa-header', json(decodePart(parts[0])));
      var claims = decodePart(parts[1]);
      set('qa-claims', json(claims));
      set('qa-jti', claims.jti || '(none)');
    } catch (e) { set('qa-claims', 'cannot decode: ' + e.message); }
    enableScenarios();
    tick();
  }

  function tick() {
    var claims = current && claimsOf(current);
    if (!claims) { set('qa-countdown', 'no token'); return; }
    if (typeof claims.exp !== 'number') { set('qa-countdown', 'never (no exp claim)'); return; }
    var left = Math.floor(claims.exp - Date.now() / 1000);
    set('qa-countdown', left > 0 ? duration(left) : 'expired');
  }
  function duration(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (h) { return h + ' h ' + m + ' min'; }
    return m ? m + ' min ' + s + ' s' : s + ' s';
  }
  // Scenarios that need a token are disabled while the page holds none.
  function enableScenarios() {
    Array.prototype.forEach.call(panel.querySelectorAll('[data-needs-token]'), function (button) {
      button.disabled = !current;
    });
    var note = panel.querySelector('[data-testid="qa-needs-token-note"]');
    if (note) { note.hidden = Boolean(current); }
  }
  setInterval(tick, 500);

  function lookupSummary(status, body) {
    if (status === 200 && body) { return 'HTTP 200: user ' + body.username + ' (' + body.id + ')'; }
    var why = body && (body.error_description || body.error);
    return 'HTTP ' + status + (why ? ': ' + why : '');
  }
  function showLookup(status, body, who) {
    set('qa-lookup-summary', lookupSummary(status, body) + ' (' + who + ')');
    set('qa-lookup', 'HTTP ' + status + '\n' + json(body));
  }

  function onAuth(detail) {
    var body = detail.body || {};
    var report = body.report || {};
    set('qa-auth', 'HTTP ' + detail.status + '\n' + json(detail.body));
    if (detail.status === 204 && !body.report) {
      set('qa-verify-summary', 'no token sent: Talk treats the reader as anonymous');
      set('qa-stream', 'anonymous');
    } else if (detail.status === 200 && body.user) {
      set('qa-verify-summary', 'HTTP 200: signature and claims verified, ' +
        (report.source === 'tokenUserNotFound' ? 'new user looked up via /talk/user' : 'user already known to Talk'));
      set('qa-stream', 'signed in as ' + body.user.username);
    } else {
      var reason = report.reason || (report.lookup ? '/talk/user answered ' + report.lookup.status : 'unknown');
      set('qa-verify-summary', 'HTTP ' + detail.status + ': anonymous: ' + reason);
      set('qa-stream', 'refused (' + reason + ')');
      log('Talk refused the token: ' + reason);
    }
    if (report.lookup) {
      showLookup(report.lookup.status, report.lookup.body, "called by Talk's tokenUserNotFound hook");
    } else {
      // A result shown for an earlier token would read as this token's.
      set('qa-lookup-summary', 'not called for this token' +
        (detail.status === 200 && body.user ? ' (Talk already knows the user)' : ' (Talk stopped before it)'));
      set('qa-lookup', 'none');
    }
  }

  document.addEventListener('talk:ready', function (e) { show(e.detail.token); });
  document.addEventListener('talk:token', function (e) {
    renewals += 1;
    set('qa-renewals', String(renewals));
    show(e.detail.token);
    log('token renewed without a reload: new jti ' + e.detail.jti);
  });
  document.addEventListener('talk:logout', function (e) { show(null); log('stream signed out (' + e.detail.reason + ')'); });
  document.addEventListener('talk:error', function (e) { log('renewal problem: ' + e.detail.message); });
  document.addEventListener('standin:auth', function (e) { onAuth(e.detail); });

  function item() { return window.FlaskTalk && window.FlaskTalk.embeds[0]; }
  // In case the loader started before this script was loaded.
  show(item() ? item().cfg.token || null : null);

  var actions = {
    renew: function () {
      if (!item()) { return log('no comment stream on this page'); }
      log('asked the site for a new token');
      return window.FlaskTalk.renew(0);
    },
    tamper: function () {
      if (!current || !item()) { return log('no token to tamper with: sign in first'); }
      var parts = current.split('.');
      var claims = decodePart(parts[1]);
      claims.sub = 'someone-else';
      if (claims.user) { claims.user.id = 'someone-else'; }
      log('sent Talk a token whose sub was changed to "someone-else" after signing');
      return item().embed.login(parts[0] + '.' + encodePart(claims) + '.' + parts[2]);
    },
    revoke: function () {
      if (!current) { return log('no token to revoke: sign in first'); }
      return fetch(panel.getAttribute('data-revoke-url'), {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': panel.getAttribute('data-csrf') },
        body: JSON.stringify({ token: current })
      }).then(function (r) { return r.json(); }).then(function (d) {
        log(d.revoked ? 'revoked jti ' + d.revoked + ' (Talk keeps users it already knows; /talk/user now refuses the token)'
          : 'revoke failed: ' + (d.error_description || d.error));
        return actions.lookup();
      });
    },
    lookup: function () {
      if (!current) { return log('no token to send: sign in first'); }
      return fetch(panel.getAttribute('data-lookup-url'), { headers: { Authorization: 'Bearer ' + current } })
        .then(function (r) {
          return r.json().then(function (b) {
            showLookup(r.status, b, 'called from this panel');
            log('/talk/user answered ' + lookupSummary(r.status, b));
          });
        });
    }
  };
  panel.addEventListener('click', function (e) {
    var action = e.target.closest && e.target.closest('[data-action]');
    var name = action && action.getAttribute('data-action');
    if (name && actions[name]) { actions[name](); }
  });
})();
