/*
 * util.js - what every part of the dashboard shares: building DOM nodes
 * (TW.h: text always through text nodes, never parsed as HTML, so target
 * names and labels from the API are shown verbatim), reading the JSON API
 * (TW.api), and formatting numbers, durations and times.
 */
'use strict';
var TW = (window.TW = {});

TW.SVGNS = 'http://www.w3.org/2000/svg';

/* Appends children: strings and numbers become text nodes, arrays are
 * flattened, null/undefined/false are skipped. */
TW.append = function (el, kids) {
  for (var i = 0; i < kids.length; i++) {
    var k = kids[i];
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) TW.append(el, k);
    else if (typeof k === 'string' || typeof k === 'number') el.appendChild(document.createTextNode(String(k)));
    else el.appendChild(k);
  }
  return el;
};

function setAttrs(el, attrs) {
  if (!attrs) return;
  Object.keys(attrs).forEach(function (k) {
    var v = attrs[k];
    if (v === null || v === undefined || v === false) return;
    if (k === 'text') el.textContent = String(v);
    else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  });
}

/* TW.h('td', {class: 'x', title: name}, child, ...) */
TW.h = function (tag, attrs) {
  var el = document.createElement(tag);
  setAttrs(el, attrs);
  return TW.append(el, Array.prototype.slice.call(arguments, 2));
};

/* The same in the SVG namespace. */
TW.s = function (tag, attrs) {
  var el = document.createElementNS(TW.SVGNS, tag);
  setAttrs(el, attrs);
  return TW.append(el, Array.prototype.slice.call(arguments, 2));
};

TW.clear = function (el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
};

/* ---- the API ---- */

TW.tokenKey = 'tlswatch-read-token';

/* A query string from {k: v} (arrays repeat the key; empty values dropped). */
TW.query = function (params) {
  var parts = [];
  Object.keys(params || {}).forEach(function (k) {
    var v = params[k];
    (Array.isArray(v) ? v : [v]).forEach(function (x) {
      if (x === null || x === undefined || x === '') return;
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(x));
    });
  });
  return parts.length ? '?' + parts.join('&') : '';
};

/* GET /api/v1/PATH?params -> the parsed JSON. Rejects with an Error whose
 * message names the path, the status and the API's own error message;
 * err.status is the HTTP status (0: no answer). */
TW.api = function (path, params) {
  var headers = { Accept: 'application/json' };
  var tok = null;
  try { tok = window.sessionStorage.getItem(TW.tokenKey); } catch (e) { tok = TW.tokenMemory || null; }
  if (tok) headers.Authorization = 'Bearer ' + tok;
  var url = '/api/v1/' + path + TW.query(params);
  return fetch(url, { headers: headers, cache: 'no-store' }).then(
    function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (res.ok && body !== null) return body;
        var msg = body && body.error && body.error.message ? body.error.message
          : res.ok ? 'the answer is not JSON' : res.statusText;
        if (body && body.error && body.error.parameter) msg += ' (parameter ' + body.error.parameter + ')';
        var err = new Error(url + ': ' + res.status + ' ' + msg);
        err.status = res.status;
        throw err;
      });
    },
    function (e) {
      var err = new Error(url + ': no answer (' + e.message + ')');
      err.status = 0;
      throw err;
    });
};

/* ---- formatting ---- */

TW.dash = '\u2013';

TW.pct = function (r) {
  if (r === null || r === undefined) return TW.dash;
  var p = r * 100;
  if (p > 99 && p < 100) return p.toFixed(2) + '%';
  return p.toFixed(1) + '%';
};

TW.ms = function (x) {
  if (x === null || x === undefined) return TW.dash;
  if (x < 10) return x.toFixed(1) + ' ms';
  if (x >= 10000) return (x / 1000).toFixed(1) + ' s';
  return Math.round(x) + ' ms';
};

TW.num = function (x, digits) {
  if (x === null || x === undefined) return TW.dash;
  return Number(x).toFixed(digits || 0);
};

TW.days = function (d) {
  if (d === null || d === undefined) return TW.dash;
  if (d < 0) return 'expired ' + Math.ceil(-d) + ' d ago';
  if (d < 1) return Math.round(d * 24) + ' h';
  return Math.floor(d) + ' d';
};

TW.time = function (iso) {
  if (!iso) return TW.dash;
  var d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, 'Z');
};

/* "3 min ago" from an RFC 3339 time. */
TW.ago = function (iso) {
  if (!iso) return 'never';
  var s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (isNaN(s)) return String(iso);
  if (s < 0) return 'in ' + TW.agoText(-s);
  return TW.agoText(s) + ' ago';
};

TW.agoText = function (s) {
  if (s < 90) return Math.round(s) + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
};

/* A target's link to its drill-down. */
TW.targetHref = function (id, sni) {
  return '#/target/' + encodeURIComponent(id) + (sni ? '?sni=' + encodeURIComponent(sni) : '');
};

/* Labels {"k": "v"} as a list of chips. */
TW.labels = function (labels) {
  var keys = Object.keys(labels || {}).sort();
  if (!keys.length) return null;
  return TW.h('span', { class: 'chips' }, keys.map(function (k) {
    return TW.h('span', { class: 'chip' }, k + '=' + labels[k]);
  }));
};

/* A panel: a section with a heading, a note and its content. */
TW.panel = function (title, cls, kids, note) {
  return TW.h('section', { class: 'panel ' + (cls || '') },
    TW.h('h2', null, title), note ? TW.h('p', { class: 'note' }, note) : null, kids);
};

/* A table from column heads and rows of cells (a cell is a node, a string
 * or {text, cls, title}). */
TW.table = function (heads, rows, cls) {
  return TW.h('div', { class: 'scroll' }, TW.h('table', { class: 'data ' + (cls || '') },
    TW.h('thead', null, TW.h('tr', null, heads.map(function (x) { return TW.h('th', { scope: 'col' }, x); }))),
    TW.h('tbody', null, rows.map(function (r) {
      return TW.h('tr', { class: r.cls || null }, (r.cells || r).map(function (c) {
        if (c && typeof c === 'object' && !(c instanceof Node) && !Array.isArray(c))
          return TW.h('td', { class: c.cls || null, title: c.title || null }, c.text);
        return TW.h('td', null, c);
      }));
    }))));
};

TW.empty = function (text) {
  return TW.h('p', { class: 'empty' }, text);
};
