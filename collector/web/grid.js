/*
 * grid.js - the regional health grid (GET /api/v1/grid): rows are target
 * endpoints, columns regions. A cell's colour follows its status (ok,
 * degraded, failing) and it always says the same in text: success %, p95
 * handshake time, a status word with a symbol, and which profiles fail with
 * which outcome ("legacy, Android 4.4.2: protocol_version"). Two patterns
 * tell apart what a bare percentage would mix up:
 *   locked out  a profile that failed every attempt while others succeed
 *               (a client that cannot connect at all): diagonal hatching and
 *               the text "N profile(s) locked out";
 *   flapping    a profile that both failed and succeeded in the window:
 *               dotted background and the text "flapping".
 */
'use strict';

TW.statusText = { ok: '\u2713 ok', degraded: '\u25b2 degraded', failing: '\u2715 failing' };

/* What a cell's failing profiles say: {locked: [...], flapping: [...],
 * lines: ["legacy, Android 4.4.2: protocol_version", ...]} */
TW.cellFailures = function (cell) {
  var locked = [], flapping = [], byOutcome = {}, order = [];
  (cell.failing_profiles || []).forEach(function (f) {
    var isLocked = f.failures >= f.attempts && f.attempts > 0;
    (isLocked ? locked : flapping).push(f.profile);
    var key = (f.top_outcome || 'unknown') + (isLocked ? '' : ' ' + f.failures + '/' + f.attempts);
    if (!byOutcome[key]) { byOutcome[key] = []; order.push(key); }
    byOutcome[key].push(f.profile);
  });
  return {
    locked: locked, flapping: flapping,
    lines: order.map(function (k) { return byOutcome[k].join(', ') + ': ' + k; })
  };
};

TW.gridCell = function (cell, region) {
  if (!cell) {
    return TW.h('td', { class: 'cell st-nodata', 'data-region': region }, TW.h('span', { class: 'nodata' }, 'no data'));
  }
  var f = TW.cellFailures(cell);
  var cls = 'cell st-' + cell.status;
  var tags = [];
  /* locked out only means something when another profile gets through */
  if (f.locked.length && cell.successes > 0) {
    cls += ' pat-locked';
    tags.push(TW.h('span', { class: 'tag tag-locked' }, '\u2298 ' + f.locked.length +
      (f.locked.length === 1 ? ' profile' : ' profiles') + ' locked out'));
  }
  if (f.flapping.length) {
    cls += ' pat-flap';
    tags.push(TW.h('span', { class: 'tag tag-flap' }, '\u21af flapping'));
  }
  return TW.h('td', { class: cls, 'data-region': region, 'data-status': cell.status },
    TW.h('div', { class: 'cell-head' },
      TW.h('span', { class: 'pct' }, TW.pct(cell.success_ratio)),
      TW.h('span', { class: 'st' }, TW.statusText[cell.status] || cell.status)),
    TW.h('div', { class: 'p95' }, 'p95 ' + TW.ms(cell.p95_ms) + ' \u00b7 ' + cell.attempts + ' results'),
    tags.length ? TW.h('div', { class: 'tags' }, tags) : null,
    f.lines.length ? TW.h('ul', { class: 'fails' }, f.lines.map(function (l) { return TW.h('li', null, l); })) : null);
};

/* The grid as a table; grid is the API's answer. */
TW.grid = function (grid) {
  if (!grid.rows.length)
    return TW.empty('No target has results in this window' + (grid.window ? ' (' + grid.window + ')' : '') + '.');
  var head = TW.h('tr', null, TW.h('th', { scope: 'col' }, 'Target'),
    grid.regions.map(function (r) { return TW.h('th', { scope: 'col' }, r); }));
  var body = TW.h('tbody');
  grid.rows.forEach(function (row) {
    var byRegion = {};
    row.cells.forEach(function (c) { byRegion[c.region] = c; });
    var name = TW.h('th', { scope: 'row', class: 'tname' },
      TW.h('a', { href: TW.targetHref(row.id, row.sni !== row.host ? row.sni : null), class: 'target-link' }, row.id),
      row.sni && row.sni !== row.host ? TW.h('div', { class: 'sub' }, 'SNI ' + row.sni) : null,
      TW.h('div', { class: 'sub' }, row.service === null ? 'no service' : row.service),
      TW.labels(row.labels));
    body.appendChild(TW.h('tr', { 'data-target': row.id }, name,
      grid.regions.map(function (r) { return TW.gridCell(byRegion[r], r); })));
  });
  return TW.h('div', { class: 'scroll' },
    TW.h('table', { class: 'grid', id: 'grid' }, TW.h('thead', null, head), body),
    TW.h('p', { class: 'key' }, 'Key: ', TW.h('span', { class: 'k st-ok' }, TW.statusText.ok + ' \u2265 99%'), ' ',
      TW.h('span', { class: 'k st-degraded' }, TW.statusText.degraded), ' ',
      TW.h('span', { class: 'k st-failing' }, TW.statusText.failing), ' ',
      TW.h('span', { class: 'k pat-locked' }, '\u2298 locked out: a profile never succeeds'), ' ',
      TW.h('span', { class: 'k pat-flap' }, '\u21af flapping: a profile fails some of the time')));
};
