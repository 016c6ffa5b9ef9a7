/* flask-talk: turn the JSON next to each [data-talk-embed] element into a Talk embed,
 * keep its token fresh, and sign the stream out when the reader signs out of the site.
 * Talk 4: Coral.Talk.render(el, {talk, asset_url, auth_token}).
 * Coral 5+: Coral.createStreamEmbed({id, autoRender: true, rootURL, storyURL, accessToken}).
 * No inline script is needed, so the page can keep a strict Content-Security-Policy. */
(function () {
  'use strict';
  var RETRY_MS = 15000;
  var channel = ('BroadcastChannel' in window) ? new BroadcastChannel('flask-talk') : null;
  var embeds = [];

  function render(el, cfg) {
    if (cfg.format === 'coral') {
      // createStreamEmbed alone draws nothing; like Coral's own embed code, ask it to
      // render when the element scrolls into view (at once without IntersectionObserver).
      var opts = { id: el.id, autoRender: true, rootURL: cfg.talk_url, storyURL: cfg.asset_url };
      if (cfg.asset_id) { opts.storyID = cfg.asset_id; }
      // An anonymous reader gets no accessToken key at all: Coral fails on an empty one.
      if (cfg.token) { opts.accessToken = cfg.token; }
      return window.Coral.createStreamEmbed(opts);
    }
    var options = { talk: cfg.talk_url, asset_url: cfg.asset_url };
    if (cfg.asset_id) { options.asset_id = cfg.asset_id; }
    if (cfg.token) { options.auth_token = cfg.token; }
    return window.Coral.Talk.render(el, options);
  }

  function emit(item, name, detail) {
    item.el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }

  /* Renew `renew_before` seconds before expiry, measured on the server's clock
   * (expires_at - issued_at), so a wrong client clock cannot break renewal. */
  function schedule(item, ms) {
    clearTimeout(item.timer);
    if (ms === undefined) {
      var cfg = item.cfg;
      if (!cfg.token || !cfg.expires_at || !cfg.issued_at) { return; }
      var lifetime = cfg.expires_at - cfg.issued_at;
      var lead = cfg.renew_before < lifetime ? cfg.renew_before : lifetime / 2;
      ms = Math.max(1000, (lifetime - lead) * 1000);
      item.deadline = Date.now() + lifetime * 1000;
    }
    item.timer = setTimeout(function () { renew(item); }, ms);
  }

  function signedOut(item, why) {
    clearTimeout(item.timer);
    item.cfg.token = null;
    if (item.embed && item.embed.logout) { item.embed.logout(); }
    emit(item, 'talk:logout', { reason: why });
  }

  function renew(item) {
    return fetch(item.cfg.token_url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRFToken': item.cfg.csrf_token, 'Accept': 'application/json' }
    }).then(function (response) {
      if (response.status === 401) { signedOut(item, 'session ended'); return null; }
      if (!response.ok) { throw new Error('token renewal answered ' + response.status); }
      return response.json().then(function (data) {
        item.cfg.token = data.token;
        item.cfg.expires_at = data.expires_at;
        item.cfg.issued_at = data.issued_at;
        if (item.embed && item.embed.login) { item.embed.login(data.token); }
        emit(item, 'talk:token', data);
        schedule(item);
        return data;
      });
    }).catch(function (error) {
      emit(item, 'talk:error', { message: String(error && error.message || error) });
      if (item.deadline && Date.now() + RETRY_MS >= item.deadline) { signedOut(item, 'token expired'); }
      else { schedule(item, RETRY_MS); }
    });
  }

  function logoutAll(why) {
    embeds.forEach(function (item) { if (item.cfg.token) { signedOut(item, why); } });
  }

  function start(el) {
    var source = document.getElementById(el.id + '-config');
    if (!source || el.getAttribute('data-talk-started')) { return; }
    el.setAttribute('data-talk-started', '1');
    var item = { el: el, cfg: JSON.parse(source.textContent), timer: null, deadline: null };
    item.embed = render(el, item.cfg);
    embeds.push(item);
    emit(item, 'talk:ready', { token: item.cfg.token || null });
    schedule(item);
  }

  // A site's sign-out form marked data-talk-logout signs every stream out first.
  document.addEventListener('submit', function (event) {
    if (event.target && event.target.hasAttribute && event.target.hasAttribute('data-talk-logout')) {
      logoutAll('site logout');
      if (channel) { channel.postMessage('logout'); }
    }
  }, true);
  if (channel) {
    channel.onmessage = function (message) { if (message.data === 'logout') { logoutAll('site logout in another tab'); } };
  }

  window.FlaskTalk = {
    embeds: embeds,
    renew: function (index) { return renew(embeds[index || 0]); },
    logout: logoutAll
  };
  function startAll() { Array.prototype.forEach.call(document.querySelectorAll('[data-talk-embed]'), start); }
  // Start once the document is parsed, so scripts placed after the embed hear talk:ready.
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', startAll); }
  else { startAll(); }
})();
