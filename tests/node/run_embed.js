'use strict';
/* Run flask_talk/static/flask_talk/talk-embed.js in a small stand-in for a page (Node's vm),
 * with a recording window.Coral, and print what the page handed to Talk/Coral.
 * stdin: {"config": <the embed's JSON config>}
 * stdout: {"calls": [[name, options]], "timers": n, "rendered": bool}
 * Lets the tests check exactly which keys reach Coral.createStreamEmbed / Coral.Talk.render,
 * and whether the stream would be drawn at all. Coral's createStreamEmbed draws nothing by
 * itself (client/src/core/client/embed/StreamEmbed.ts): only `autoRender: true` (at once
 * where IntersectionObserver is missing, as here; otherwise once the element scrolls into
 * view) or a later `embed.render()` draws it. Talk 4's Coral.Talk.render draws at once. */
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const SCRIPT = path.join(__dirname, '..', '..', 'flask_talk', 'static', 'flask_talk', 'talk-embed.js');

function run(config) {
  const calls = [];
  const timers = [];
  const attributes = {};
  const el = {
    id: config.element_id,
    getAttribute: (name) => (name in attributes ? attributes[name] : null),
    setAttribute: (name, value) => { attributes[name] = String(value); },
    dispatchEvent: () => true
  };
  const source = { textContent: JSON.stringify(config) };
  let rendered = false;
  const embed = {
    login: () => calls.push(['login']),
    logout: () => calls.push(['logout']),
    render: () => { rendered = true; }
  };
  const window = {
    Coral: {
      createStreamEmbed: (options) => {
        calls.push(['createStreamEmbed', options]);
        if (options.autoRender === true) { rendered = true; }
        return embed;
      },
      Talk: { render: (target, options) => { calls.push(['Talk.render', options]); rendered = true; return embed; } }
    }
  };
  const document = {
    readyState: 'complete',
    getElementById: (id) => (id === el.id + '-config' ? source : null),
    querySelectorAll: () => [el],
    addEventListener: () => {}
  };
  const context = {
    window: window,
    document: document,
    CustomEvent: function CustomEvent(name, init) { this.type = name; this.detail = init && init.detail; },
    setTimeout: (fn, ms) => { timers.push(ms); return timers.length; },
    clearTimeout: () => {},
    fetch: () => Promise.reject(new Error('no network in this test')),
    JSON: JSON,
    Date: Date,
    Math: Math,
    Array: Array,
    String: String
  };
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(SCRIPT, 'utf8'), context, { filename: SCRIPT });
  // Options crossed the vm boundary: copy them to plain objects for JSON.
  return { calls: JSON.parse(JSON.stringify(calls)), timers: timers.length, rendered: rendered };
}

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => { process.stdout.write(JSON.stringify(run(JSON.parse(input).config))); });
