/* The demo's Talk stand-in, client side: the same API as Talk 4 (Coral.Talk.render) and
 * Coral 5 (Coral.createStreamEmbed), drawing a small comment box instead of Talk's iframe.
 * Like the real ones, Talk 4's render draws at once, while Coral 5's createStreamEmbed draws
 * nothing until `autoRender: true` or `render()` (see CoralEmbed below).
 * It sends the token to the stand-in server exactly as Talk's client would, and reports
 * every answer as a `standin:auth` event so the demo's QA panel can show it. */
(function () {
  'use strict';
  function h(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function Stream(el, root, assetUrl, token) {
    this.el = el; this.root = root.replace(/\/$/, ''); this.asset = assetUrl; this.token = token || null;
    el.innerHTML = '';
    var box = h('section', { 'class': 'standin', 'aria-label': 'Comments' });
    this.status = h('p', { 'class': 'standin-status', role: 'status', 'data-testid': 'standin-status' }, 'Loading comments…');
    // Refusals go to an alert so screen readers announce them; the status says who comments.
    this.alert = h('p', { 'class': 'standin-alert', role: 'alert', 'data-testid': 'standin-alert' });
    this.list = h('ol', { 'class': 'standin-comments', 'aria-label': 'Comments so far' });
    this.form = h('form', { 'class': 'standin-form', hidden: '' });
    var id = el.id + '-comment';
    this.form.appendChild(h('label', { 'for': id }, 'Your comment'));
    this.textarea = h('textarea', { id: id, rows: '3', required: '' });
    this.form.appendChild(this.textarea);
    this.form.appendChild(h('button', { type: 'submit' }, 'Post comment'));
    box.appendChild(h('p', { 'class': 'standin-badge' }, 'Talk stand-in (demo)'));
    box.appendChild(this.status); box.appendChild(this.alert); box.appendChild(this.form); box.appendChild(this.list);
    el.appendChild(box);
    var self = this;
    this.form.addEventListener('submit', function (e) { e.preventDefault(); self.post(); });
    this.authenticate();
    this.loadComments();
  }

  Stream.prototype.report = function (detail) {
    this.el.dispatchEvent(new CustomEvent('standin:auth', { bubbles: true, detail: detail }));
  };

  Stream.prototype.authenticate = function () {
    var self = this;
    var seq = this.seq = (this.seq || 0) + 1;  // only the latest sign-in attempt counts
    this.alert.textContent = '';
    if (!this.token) {
      this.status.textContent = 'You are not signed in. Sign in on the site to comment.';
      this.form.hidden = true;
      this.report({ status: 204, body: null });
      return Promise.resolve();
    }
    return fetch(this.root + '/api/v1/auth', { headers: { Authorization: 'Bearer ' + this.token } })
      .then(function (r) {
        // Like Talk, the stand-in answers 204 (anonymous) for a token it cannot use; its
        // reason comes in the X-Standin-Report header.
        if (r.status === 204) {
          var note = r.headers.get('X-Standin-Report');
          return { status: 204, body: note ? JSON.parse(note) : null };
        }
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      })
      .then(function (answer) {
        if (seq !== self.seq) { return; }
        self.report(answer);
        if (answer.status === 200 && answer.body.user) {
          self.status.textContent = 'Commenting as ' + answer.body.user.username;
          self.form.hidden = false;
        } else {
          var why = answer.body && answer.body.report ? (answer.body.report.reason ||
            ('user lookup answered ' + (answer.body.report.lookup || {}).status)) : 'unknown';
          self.status.textContent = 'You are not signed in to the comments.';
          self.alert.textContent = 'Talk refused the sign-in: ' + why;
          self.form.hidden = true;
        }
      });
  };

  Stream.prototype.loadComments = function () {
    var self = this;
    return fetch(this.root + '/api/v1/comments?asset_url=' + encodeURIComponent(this.asset))
      .then(function (r) { return r.json(); })
      .then(function (data) {
        self.list.innerHTML = '';
        data.comments.forEach(function (c) {
          var li = h('li'); li.appendChild(h('strong', {}, c.author)); li.appendChild(document.createTextNode(': ' + c.body));
          self.list.appendChild(li);
        });
      });
  };

  Stream.prototype.post = function () {
    var self = this;
    fetch(this.root + '/api/v1/comments?asset_url=' + encodeURIComponent(this.asset), {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + this.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ body: this.textarea.value })
    }).then(function (r) {
      if (r.ok) { self.textarea.value = ''; } else { self.alert.textContent = 'Your comment was not posted (HTTP ' + r.status + ').'; }
      return self.loadComments();
    });
  };

  Stream.prototype.login = function (token) { this.token = token; return this.authenticate(); };
  Stream.prototype.logout = function () { this.token = null; return this.authenticate(); };

  /* Coral 5's embed object, as coralproject/talk client/src/core/client/embed/StreamEmbed.ts
   * behaves: creating it draws nothing. render() draws the stream (once); autoRender: true
   * renders it when the element comes within 100px of the viewport, or at once where there
   * is no IntersectionObserver. login()/logout() before the stream is drawn take effect
   * when it is. */
  function CoralEmbed(opts) {
    var id = opts.id || 'coral-embed-stream';
    this.el = document.getElementById(id);
    if (!this.el) { throw new Error('element ' + id + ' was not found'); }
    this.opts = opts; this.token = opts.accessToken || null; this.stream = null; this.observer = null;
    if (!opts.autoRender) { return; }
    if (!('IntersectionObserver' in window)) { this.render(); return; }
    var self = this;
    this.observer = new IntersectionObserver(function (entries) {
      if (!entries.some(function (entry) { return entry.isIntersecting; })) { return; }
      self.cancelAutoRender();
      self.render();
    }, { rootMargin: '100px', threshold: 1.0 });
    this.observer.observe(this.el);
  }

  CoralEmbed.prototype.cancelAutoRender = function () {
    if (this.observer) { this.observer.disconnect(); this.observer = null; }
  };
  CoralEmbed.prototype.render = function () {
    if (!this.stream) { this.stream = new Stream(this.el, this.opts.rootURL, this.opts.storyURL, this.token); }
  };
  CoralEmbed.prototype.login = function (token) {
    this.token = token;
    if (this.stream) { this.stream.login(token); }
  };
  CoralEmbed.prototype.logout = function () {
    this.token = null;
    if (this.stream) { this.stream.logout(); }
  };
  CoralEmbed.prototype.remove = function () {
    if (this.observer) { this.cancelAutoRender(); return; }
    if (!this.stream) { throw new Error('instance not mounted'); }
    this.el.innerHTML = '';
    this.stream = null;
  };
  Object.defineProperty(CoralEmbed.prototype, 'rendered', {
    get: function () { return this.stream !== null; }
  });

  window.Coral = window.Coral || {};
  window.Coral.Talk = {
    render: function (el, opts) { return new Stream(el, opts.talk, opts.asset_url, opts.auth_token); }
  };
  window.Coral.createStreamEmbed = function (opts) { return new CoralEmbed(opts); };
})();
