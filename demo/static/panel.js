/* The demo's QA token panel: decodes the token the page holds (header and claims only,
 * never the signature), counts down to expiry, shows the stand-in's answer, and offers
 * the scenarios QA asks for: renew, tamper, revoke, and a direct /talk/user call. */
(function () {
  'use strict';
  var panel = document.getElementById('qa-panel');
  if (!panel) { return; }
  var $ = function (id) { return panel.querySelector('[data-testid="' + id + '"]'); };
  var current = null;

  function decodePart(part) {
    var b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var bytes = atob(b64);
    var text = decodeURIComponent(Array.prototype.map.call(bytes, function (c) {
      return '%' + ('00' + c.charCodeAt(0).toString(16)).slice(-2);
    }).join(''));
    return JSON.parse(text);
  }
  function log(line) { $('qa-log').textContent = line + '\n' + $('qa-log').textContent; }

  function show(token) {
    current = token;
    if (!token) { $('qa-header').textContent = 'none'; $('qa-claims').textContent = 'none'; return; }
    var parts = token.split('.');
    try {
      $('qa-header').textContent = JSON.stringify(decodePart(parts[0]), null, 2);
      $('qa-claims').textContent = JSON.stringify(decodePart(parts[1]), null, 2);
    } catch (e) { $('qa-claims').textContent = 'cannot decode: ' + e.message; }
  }

  setInterval(function () {
    if (!current) { $('qa-countdown').textContent = 'no token'; return; }
    try {
      var left = decodePart(current.split('.')[1]).exp - Math.floor(Date.now() / 1000);
      $('qa-countdown').textContent = left > 0 ? left + ' s' : 'expired';
    } catch (e) { $('qa-countdown').textContent = '?'; }
  }, 500);

  document.addEventListener('talk:ready', function (e) { show(e.detail.token); });
  document.addEventListener('talk:token', function (e) { show(e.detail.token); log('renewed: new jti ' + e.detail.jti); });
  document.addEventListener('talk:logout', function (e) { show(null); log('stream signed out (' + e.detail.reason + ')'); });
  document.addEventListener('talk:error', function (e) { log('renewal problem: ' + e.detail.message); });
  document.addEventListener('standin:auth', function (e) {
    $('qa-auth').textContent = 'HTTP ' + e.detail.status + '\n' + JSON.stringify(e.detail.body, null, 2);
  });

  function embed() { return window.FlaskTalk && window.FlaskTalk.embeds[0]; }
  var actions = {
    renew: function () { return window.FlaskTalk.renew(0); },
    tamper: function () {
      if (!current) { return log('no token to tamper with'); }
      var parts = current.split('.');
      var claims = decodePart(parts[1]);
      claims.sub = 'someone-else';
      if (claims.user) { claims.user.id = 'someone-else'; }
      var forged = btoa(JSON.stringify(claims)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      var tampered = parts[0] + '.' + forged + '.' + parts[2];
      log('sent a token whose claims were changed after signing');
      embed().embed.login(tampered);
    },
    revoke: function () {
      if (!current) { return log('no token to revoke'); }
      return fetch(panel.getAttribute('data-revoke-url'), {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': panel.getAttribute('data-csrf') },
        body: JSON.stringify({ token: current })
      }).then(function (r) { return r.json(); }).then(function (d) { log('revoke: ' + JSON.stringify(d)); return actions.lookup(); });
    },
    lookup: function () {
      if (!current) { return log('no token'); }
      return fetch(panel.getAttribute('data-lookup-url'), { headers: { Authorization: 'Bearer ' + current } })
        .then(function (r) { return r.json().then(function (b) { log('/talk/user → ' + r.status + ' ' + JSON.stringify(b)); }); });
    }
  };
  panel.addEventListener('click', function (e) {
    var action = e.target.getAttribute && e.target.getAttribute('data-action');
    if (action && actions[action]) { actions[action](); }
  });
})();
