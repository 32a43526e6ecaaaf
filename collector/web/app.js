/*
 * app.js - the page's state and its one loop: the URL fragment says which
 * view and filters (#/oncall?window=1h&service=api&label=team:x,
 * #/target/host%3A443?sni=...), so a view can be bookmarked and the back
 * button works; load() fetches every slot of the view at once, builds the
 * new content off-screen and swaps it in, so a refresh (every
 * TW.REFRESH_MS, or the button) never reloads the page nor blanks it.
 */
'use strict';

TW.REFRESH_MS = 30000;
TW.WINDOWS = ['5m', '1h', '24h', '7d'];

TW.state = { view: 'oncall', window: '1h', service: '', label: '', target: null, sni: null };

/* The state the fragment says. */
function parseHash() {
  var h = window.location.hash.replace(/^#/, '');
  var qi = h.indexOf('?');
  var path = qi < 0 ? h : h.slice(0, qi), qs = qi < 0 ? '' : h.slice(qi + 1);
  var st = { view: 'oncall', window: '1h', service: '', label: '', target: null, sni: null };
  qs.split('&').forEach(function (kv) {
    if (!kv) return;
    var i = kv.indexOf('=');
    var k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    var v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
    if (k === 'window' && TW.WINDOWS.indexOf(v) >= 0) st.window = v;
    else if (k === 'service') st.service = v;
    else if (k === 'label') st.label = v;
    else if (k === 'sni') st.sni = v;
  });
  var seg = path.split('/').filter(function (x) { return x !== ''; });
  if (seg[0] === 'target' && seg.length >= 2) {
    st.view = 'target';
    st.target = decodeURIComponent(seg.slice(1).join('/'));
  } else if (seg[0] === 'exec' || seg[0] === 'oncall' || seg[0] === 'debug') {
    st.view = seg[0];
  }
  return st;
}

/* The fragment for a state (filters kept across views). */
function hashOf(st) {
  var q = { window: st.window !== '1h' ? st.window : '', service: st.service, label: st.label };
  if (st.view === 'target') {
    q.sni = st.sni;
    return '#/target/' + encodeURIComponent(st.target) + TW.query(q);
  }
  return '#/' + st.view + TW.query(q);
}

function setStatus(text, cls) {
  var el = document.getElementById('status');
  el.textContent = text;
  el.className = 'status ' + (cls || '');
}

function showBanner(nodes) {
  var b = TW.clear(document.getElementById('banner'));
  if (!nodes) { b.hidden = true; return; }
  TW.append(b, [nodes]);
  b.hidden = false;
}

/* A read token (http.read_token): asked for once, kept for the tab's life. */
function askToken() {
  var input = TW.h('input', { type: 'password', id: 'token', placeholder: 'read token', autocomplete: 'off' });
  var form = TW.h('form', { class: 'token-form' }, 'The API needs a read token: ', input, ' ', TW.h('button', { type: 'submit' }, 'Use it'));
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    try { window.sessionStorage.setItem(TW.tokenKey, input.value); } catch (err) { TW.tokenMemory = input.value; }
    showBanner(null);
    load();
  });
  showBanner(form);
}

function errorPanel(slot, err) {
  return TW.h('section', { class: 'panel error ' + (slot.cls || '') }, TW.h('h2', null, slot.title),
    TW.h('p', { class: 'err' }, '\u26a0 could not load: ' + err.message));
}

var loading = 0;   /* the generation of the newest load: older answers are dropped */

function load() {
  var st = TW.state;
  var gen = ++loading;
  var slots = st.view === 'target' ? TW.targetView(st, st.target, st.sni) : TW.views[st.view](st);
  setStatus('loading\u2026', 'busy');
  var failures = [];
  return Promise.all(slots.map(function (slot) {
    return slot.load().then(slot.render).then(function (node) {
      /* the slot's layout class (e.g. wide: the whole row) */
      /* (a slot that renders several sections lays them out itself) */
      if (slot.cls && node instanceof Element) slot.cls.split(' ').forEach(function (c) { node.classList.add(c); });
      return node;
    }).catch(function (err) {
      failures.push(err);
      return errorPanel(slot, err);
    });
  })).then(function (parts) {
    if (gen !== loading) return;
    var main = document.getElementById('main');
    var next = TW.append(document.createDocumentFragment(), parts);
    var y = window.scrollY;
    TW.clear(main).appendChild(next);
    window.scrollTo(0, y);
    main.setAttribute('data-view', st.view);
    main.setAttribute('data-loaded', String(gen));
    if (failures.some(function (e) { return e.status === 401; })) askToken();
    var now = new Date().toISOString().slice(11, 19) + 'Z';
    if (failures.length) setStatus('updated ' + now + ', ' + failures.length + ' part(s) failed', 'bad');
    else setStatus('updated ' + now, 'ok');
  });
}

function syncControls() {
  var st = TW.state;
  document.getElementById('f-window').value = st.window;
  document.getElementById('f-label').value = st.label;
  var sel = document.getElementById('f-service');
  if (st.service && !Array.prototype.some.call(sel.options, function (o) { return o.value === st.service; }))
    sel.appendChild(TW.h('option', { value: st.service }, st.service));
  sel.value = st.service;
  ['exec', 'oncall', 'debug'].forEach(function (v) {
    var a = document.getElementById('tab-' + v);
    a.href = hashOf({ view: v, window: st.window, service: st.service, label: st.label });
    if (v === st.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  document.title = 'tlswatch - ' + (st.view === 'target' ? st.target : { exec: 'executive', oncall: 'on-call', debug: 'debug' }[st.view]);
}

function onHash() {
  TW.state = parseHash();
  syncControls();
  load();
}

/* The service filter offers what GET /services lists. */
function loadServices() {
  return TW.api('services').then(function (s) {
    var sel = document.getElementById('f-service');
    var cur = sel.value;
    TW.clear(sel).appendChild(TW.h('option', { value: '' }, 'all'));
    s.items.forEach(function (x) {
      if (x.name !== null) sel.appendChild(TW.h('option', { value: x.name }, x.name));
    });
    sel.value = cur;
    if (sel.value !== cur) syncControls();
  }, function (err) {
    /* a 401 is asked for by load(); anything else is worth saying */
    if (err.status !== 401) showBanner(TW.h('p', null, 'Service list: ' + err.message));
  });
}

function applyFilters() {
  var st = TW.state;
  st.window = document.getElementById('f-window').value;
  st.service = document.getElementById('f-service').value;
  var label = document.getElementById('f-label').value.trim();
  if (label && label.indexOf(':') <= 0) {
    showBanner(TW.h('p', null, 'A label filter is key:value (e.g. team:payments).'));
    return;
  }
  st.label = label;
  showBanner(null);
  var h = hashOf(st);
  if (h !== window.location.hash) window.location.hash = h;   /* onHash loads */
  else load();
}

document.addEventListener('DOMContentLoaded', function () {
  var form = document.getElementById('filters');
  form.addEventListener('submit', function (e) { e.preventDefault(); applyFilters(); });
  document.getElementById('f-window').addEventListener('change', applyFilters);
  document.getElementById('f-service').addEventListener('change', applyFilters);
  document.getElementById('f-label').addEventListener('change', applyFilters);
  document.getElementById('f-refresh').addEventListener('click', function () { load(); });
  window.addEventListener('hashchange', onHash);
  setInterval(function () {
    if (document.getElementById('f-auto').checked && !document.hidden) load();
  }, TW.REFRESH_MS);
  loadServices();
  onHash();
});
