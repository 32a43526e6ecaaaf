/*
 * target.js - the drill-down of one target endpoint (#/target/HOST:PORT,
 * optional ?sni=): success and p95 over time per region and per profile
 * (SVG charts from GET /targets/{id}/series), the certificate each region
 * sees with drift highlighted, the negotiated version and cipher per
 * profile, and the recent failures (GET /targets/{id}).
 */
'use strict';

function chartsOf(s) {
  function pts(series, field, scale) {
    return series.map(function (x) {
      return { key: x.key, points: x.points.map(function (p) {
        return { t: p.t, v: p[field] === null ? null : p[field] * (scale || 1) };
      }) };
    });
  }
  var pct = function (v) { return v.toFixed(0) + '%'; };
  var ms = function (v) { return Math.round(v) + ' ms'; };
  return TW.panel('Over time (' + s.window + ', step ' + s.step + ')', 'wide charts', TW.h('div', { class: 'chart-grid' },
    TW.lineChart({ title: 'Handshake success per region', series: pts(s.by_region, 'success_ratio', 100), yMin: 0, yMax: 100, yFmt: pct }),
    TW.lineChart({ title: 'p95 handshake per region', series: pts(s.by_region, 'p95_ms'), yMin: 0, yFmt: ms }),
    TW.lineChart({ title: 'Handshake success per profile', series: pts(s.by_profile, 'success_ratio', 100), yMin: 0, yMax: 100, yFmt: pct }),
    TW.lineChart({ title: 'p95 handshake per profile', series: pts(s.by_profile, 'p95_ms'), yMin: 0, yFmt: ms })));
}

function certsOf(d) {
  var rows = d.certificates.map(function (c) {
    return { cls: c.drift ? 'drift' : '', cells: [
      c.region,
      { text: (c.drift ? '\u2260 ' : '') + c.fingerprint_sha256, cls: 'mono fp', title: c.drift ? 'differs from the certificate most regions see' : null },
      c.subject || TW.dash, c.issuer || TW.dash,
      (c.sans || []).join(', ') || TW.dash,
      { text: TW.time(c.not_after), title: c.not_after },
      { text: TW.days(c.days_to_expiry), cls: c.days_to_expiry === null ? '' : c.days_to_expiry < 7 ? 'bad' : c.days_to_expiry < 30 ? 'warn' : '' },
      (c.key || TW.dash) + ' / ' + (c.sig_alg || TW.dash),
      { text: TW.ago(c.seen_at), title: c.seen_at }] };
  });
  return TW.panel('Certificate per region', 'wide certs-region', [
    d.drift ? TW.h('p', { class: 'drift-note' }, '\u2260 Drift: regions see different certificates (marked rows differ from the one most regions see).') : null,
    rows.length ? TW.table(['Region', 'SHA-256 fingerprint', 'Subject', 'Issuer', 'SANs', 'Not after', 'Left', 'Key / signature', 'Seen'], rows)
      : TW.empty('No completed handshake in the last 24 hours.')]);
}

function negotiatedOf(d) {
  var rows = d.negotiated.slice().sort(function (a, b) {
    return a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : a.region < b.region ? -1 : 1;
  }).map(function (n) {
    return { cls: n.outcome === 'ok' ? '' : 'row-bad', cells: [n.profile, n.region,
      { text: (n.outcome === 'ok' ? '\u2713 ' : '\u2715 ') + n.outcome, cls: n.outcome === 'ok' ? 'good' : 'bad' },
      n.tls_version || TW.dash, { text: n.cipher || TW.dash, cls: 'mono' }, n.group || TW.dash, n.alpn || TW.dash,
      { text: TW.ago(n.at), title: n.at }] };
  });
  return TW.panel('Version and cipher per profile', 'negotiated',
    rows.length ? TW.table(['Profile', 'Region', 'Outcome', 'Version', 'Cipher', 'Group', 'ALPN', 'When'], rows) : TW.empty('No results.'));
}

function failuresOf(d) {
  var rows = d.recent_failures.map(function (f) {
    return [{ text: TW.ago(f.at), title: f.at }, f.region, f.profile, f.probe_id, { text: f.outcome, cls: 'outcome' }, { text: f.reason || TW.dash, cls: 'reason' }];
  });
  return TW.panel('Recent failures', 'failures',
    rows.length ? TW.table(['When', 'Region', 'Profile', 'Probe', 'Outcome', 'Raw reason'], rows) : TW.empty('No failure in the last 24 hours.'));
}

TW.SERIES_STEP = { '5m': '1m', '1h': '5m', '24h': '1h', '7d': '6h' };

TW.targetView = function (st, id, sni) {
  var path = 'targets/' + encodeURIComponent(id);
  var q = sni !== null ? { sni: sni } : {};
  var detail = null;   /* one request serves the slots above and below the charts */
  function loadDetail() {
    if (!detail) detail = TW.api(path, q);
    return detail;
  }
  return [
    {
      title: 'Target', cls: 'wide',
      load: loadDetail,
      render: function (d) {
        return [
          TW.h('section', { class: 'panel wide target-head' },
            TW.h('p', null, TW.h('a', { href: '#/oncall' }, '\u2190 back to the grid')),
            TW.h('h2', { id: 'target-title' }, d.id),
            TW.h('p', null, 'SNI ', d.sni === null ? '(none sent)' : d.sni, ' \u00b7 service ', d.service === null ? '(none)' : d.service,
              ' \u00b7 first seen ', TW.time(d.first_seen), ' \u00b7 last seen ', TW.ago(d.last_seen)),
            TW.labels(d.labels),
            d.snis.length > 1 ? TW.h('p', null, 'Other SNIs: ', d.snis.filter(function (x) { return x !== d.sni; }).map(function (x) {
              return TW.h('a', { href: TW.targetHref(d.id, x), class: 'chip' }, x === '' ? '(no SNI)' : x);
            })) : null),
          certsOf(d)];
      }
    },
    {
      title: 'Over time', cls: 'wide',
      load: function () {
        /* a step a few times the usual probe interval, so the lines connect */
        var p = { window: st.window, step: TW.SERIES_STEP[st.window] };
        if (sni !== null) p.sni = sni;
        return TW.api(path + '/series', p);
      },
      render: chartsOf
    },
    {
      title: 'Version, cipher and failures', cls: 'wide',
      load: loadDetail,
      render: function (d) { return [negotiatedOf(d), failuresOf(d)]; }
    }
  ];
};
