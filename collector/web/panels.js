/*
 * panels.js - one function per dashboard panel: each takes the API's answer
 * and returns a <section>. The views (views.js) choose which panels they
 * show and fetch their data.
 */
'use strict';

TW.SKEW_MS = 2000;        /* the clock_skew rule's default (alerts.clock_skew.max_ms) */
TW.DROP_RECENT_S = 3600;  /* a probe that dropped results within this is "dropping" */

TW.alertsPanel = function (alerts, title) {
  var items = alerts.items;
  var rows = items.map(function (a) {
    return { cls: 'sev-' + a.severity, cells: [
      { text: (a.severity === 'page' ? '\u203c page' : '\u2022 ' + a.severity), cls: 'sev' },
      a.rule, a.subject,
      a.service === null ? TW.dash : a.service,
      a.region_group,
      { text: TW.ago(a.firing_since || a.pending_since), title: a.firing_since || a.pending_since },
      a.summary] };
  });
  return TW.panel(title || 'Firing alerts', 'alerts',
    items.length ? TW.table(['Severity', 'Rule', 'Subject', 'Service', 'Regions', 'Since', 'Summary'], rows)
      : TW.empty('Nothing is firing.'));
};

/* Certificates of GET /certificates, soonest first, with owner labels (the
 * labels of the targets that serve them). */
TW.certsPanel = function (certs, title) {
  var rows = certs.items.map(function (c) {
    var owners = {}, where = {};
    c.sightings.forEach(function (s) {
      Object.keys(s.labels || {}).forEach(function (k) { owners[k + '=' + s.labels[k]] = true; });
      where[s.target] = where[s.target] || [];
      if (where[s.target].indexOf(s.region) < 0) where[s.target].push(s.region);
    });
    var cls = c.days_left < 0 ? 'exp-expired' : c.days_left < 7 ? 'exp-7' : c.days_left < 30 ? 'exp-30' : '';
    return { cls: cls, cells: [
      { text: TW.days(c.days_left), cls: 'days' },
      c.subject || TW.dash,
      Object.keys(where).map(function (t) {
        return TW.h('div', null, TW.h('a', { href: TW.targetHref(t) }, t), ' (' + where[t].join(', ') + ')');
      }),
      Object.keys(owners).sort().join(', ') || TW.dash,
      c.issuer || TW.dash,
      { text: c.fingerprint_sha256.slice(0, 16) + '\u2026', title: c.fingerprint_sha256, cls: 'mono' }] };
  });
  return TW.panel(title, 'certs',
    rows.length ? TW.table(['Days left', 'Subject', 'Served by (regions)', 'Owner labels', 'Issuer', 'SHA-256'], rows)
      : TW.empty('No certificate expires in this period.'));
};

/* Probes: silent, clock-skewed, dropping results. */
TW.probesPanel = function (probes) {
  var now = Date.now();
  var rows = probes.items.map(function (p) {
    var problems = [];
    if (p.silent) problems.push('\u23f8 silent');
    if (p.clock_offset_ms !== null && Math.abs(p.clock_offset_ms) > TW.SKEW_MS) problems.push('\u231a clock skewed');
    if (p.dropped_at && (now - new Date(p.dropped_at).getTime()) / 1000 < TW.DROP_RECENT_S) problems.push('\u2193 dropping results');
    return { cls: problems.length ? 'probe-bad' : 'probe-ok', cells: [
      p.probe_id, p.region, p.version || TW.dash,
      { text: TW.ago(p.last_seen), title: p.last_seen },
      p.clock_offset_ms === null ? TW.dash : TW.ms(p.clock_offset_ms),
      p.spool_records === null ? TW.dash : String(p.spool_records),
      p.dropped === null ? TW.dash : String(p.dropped),
      { text: problems.length ? problems.join(', ') : '\u2713 ok', cls: problems.length ? 'bad' : 'good' }] };
  });
  return TW.panel('Probes', 'probes',
    rows.length ? TW.table(['Probe', 'Region', 'Version', 'Last seen', 'Clock offset', 'Spooled', 'Dropped', 'State'], rows)
      : TW.empty('No probe has connected yet.'),
    'Clock skewed: offset over ' + TW.SKEW_MS + ' ms; dropping: dropped results within the last hour.');
};

/* Per-service SLIs (GET /slis?group_by=service): success, mTLS failures, SNI mismatches. */
TW.servicesPanel = function (slis) {
  var rows = slis.items.map(function (s) {
    var bad = s.success_rate !== null && s.success_rate < 0.99;
    return { cls: bad ? 'row-bad' : '', cells: [
      s.group === null ? '(no service)' : s.group,
      TW.meter(s.success_rate, TW.pct(s.success_rate), bad ? 'bad' : 'good'),
      String(s.attempts),
      TW.ms(s.p95_ms),
      s.mtls_attempts ? TW.pct(s.mtls_failure_rate) + ' of ' + s.mtls_attempts : 'no mTLS',
      TW.pct(s.sni_mismatch_rate)] };
  });
  return TW.panel('Live success per service (' + slis.window + ')', 'services',
    rows.length ? TW.table(['Service', 'Handshake success', 'Results', 'p95', 'mTLS failure rate', 'SNI mismatches'], rows)
      : TW.empty('No results in this window.'));
};

/* Recent failures from GET /results (non-ok only), with the raw reason. */
TW.failuresPanel = function (results, title, limit) {
  var items = results.items.filter(function (r) { return r.outcome !== 'ok'; }).slice(0, limit || 25);
  var rows = items.map(function (r) {
    return [{ text: TW.ago(r.started_at), title: r.started_at },
      TW.h('a', { href: TW.targetHref(r.target) }, r.target),
      r.region, r.profile, { text: r.outcome, cls: 'outcome' }, { text: r.reason || TW.dash, cls: 'reason' }];
  });
  return TW.panel(title, 'failures',
    rows.length ? TW.table(['When', 'Target', 'Region', 'Profile', 'Outcome', 'Raw reason'], rows)
      : TW.empty('No failed handshake among the latest results.'));
};

/* Error budget consumed per SLO (GET /slos). */
TW.slosPanel = function (slos) {
  var rows = slos.items.map(function (s) {
    var used = s.error_budget_remaining === null ? null : 1 - s.error_budget_remaining;
    var over = used !== null && used > 1;
    return { cls: over ? 'row-bad' : '', cells: [
      s.name, (s.objective * 100).toFixed(s.objective >= 0.999 ? 2 : 1) + '% / ' + s.window,
      TW.pct(s.attainment),
      used === null ? TW.dash : TW.meter(used, TW.pct(used) + (over ? ' \u2014 overspent' : ''), over ? 'bad' : used > 0.75 ? 'warn' : 'good'),
      s.rules.filter(function (r) { return r.firing; }).map(function (r) { return r.name; }).join(', ') || 'none'] };
  });
  return TW.panel('Error budget consumed per SLO', 'slos',
    rows.length ? TW.table(['SLO', 'Objective / window', 'Attainment', 'Budget consumed', 'Firing rules'], rows)
      : TW.empty('No SLO is configured (slos.yaml).'));
};

/* Incidents: page alerts that fired in the last 90 days. */
TW.incidentsPanel = function (alerts) {
  var fired = alerts.items.filter(function (a) { return a.firing_since; });
  var pages = fired.filter(function (a) { return a.severity === 'page'; });
  var rows = fired.slice(0, 30).map(function (a) {
    var end = a.resolved_at ? new Date(a.resolved_at).getTime() : Date.now();
    return [{ text: TW.time(a.firing_since), title: a.firing_since }, a.severity, a.rule, a.subject,
      a.state === 'resolved' ? 'resolved after ' + TW.agoText((end - new Date(a.firing_since).getTime()) / 1000) : a.state];
  });
  return TW.panel('Incidents, last 90 days: ' + fired.length + ' (' + pages.length + ' paged)', 'incidents',
    rows.length ? TW.table(['Fired', 'Severity', 'Rule', 'Subject', 'State'], rows) : TW.empty('No alert fired in 90 days.'));
};

/* Debug: version and cipher per profile, counted over the latest result of
 * every target x region (GET /targets, "last"). */
TW.negotiationPanel = function (targets) {
  var counts = {}, keys = [];
  targets.items.forEach(function (t) {
    t.last.forEach(function (l) {
      var k = l.profile + '\u0000' + (l.tls_version || '(no handshake: ' + l.outcome + ')') + '\u0000' + (l.cipher || TW.dash);
      if (!counts[k]) { counts[k] = 0; keys.push(k); }
      counts[k]++;
    });
  });
  keys.sort();
  var rows = keys.map(function (k) {
    var p = k.split('\u0000');
    return [p[0], p[1], { text: p[2], cls: 'mono' }, String(counts[k])];
  });
  return TW.panel('Negotiated version and cipher per profile', 'negotiation',
    rows.length ? TW.table(['Profile', 'Version', 'Cipher', 'Series'], rows) : TW.empty('No results.'),
    'Over the latest result of every target \u00d7 region \u00d7 profile.');
};

/* Debug: the latency histogram and OCSP stapling per endpoint (GET /slis?group_by=target). */
TW.latencyPanel = function (slis) {
  var figs = slis.items.map(function (s) {
    return TW.h('div', { class: 'hist-cell' },
      TW.histogram(s.group === null ? '(all)' : s.group, s.latency_histogram || []),
      TW.h('p', { class: 'sub' }, 'p95 ' + TW.ms(s.p95_ms) + ', p99 ' + TW.ms(s.p99_ms) +
        ' \u00b7 OCSP stapled ' + TW.pct(s.ocsp_stapling_rate) + ' \u00b7 cipher fallback ' + TW.pct(s.cipher_fallback_rate)));
  });
  return TW.panel('Handshake latency distribution per endpoint (' + slis.window + ')', 'latency',
    figs.length ? TW.h('div', { class: 'hist-grid' }, figs) : TW.empty('No results in this window.'));
};

/* Debug: OCSP per endpoint: the stapling rate over the window (GET /slis,
 * group_by target) and what the latest results said of revocation
 * (ocsp_status of GET /results). */
TW.ocspPanel = function (slis, results) {
  var status = {};
  results.items.forEach(function (r) {
    if (r.ocsp_status === null || r.ocsp_status === undefined) return;
    var s = (status[r.target] = status[r.target] || {});
    s[r.ocsp_status] = (s[r.ocsp_status] || 0) + 1;
  });
  var rows = slis.items.map(function (s) {
    var st = status[s.group] || {};
    var text = Object.keys(st).sort().map(function (k) { return k + ' ' + st[k]; }).join(', ');
    var low = s.ocsp_stapling_rate !== null && s.ocsp_stapling_rate < 1;
    return { cls: st.revoked ? 'row-bad' : '', cells: [
      TW.h('a', { href: TW.targetHref(s.group) }, s.group),
      s.handshakes ? TW.meter(s.ocsp_stapling_rate, TW.pct(s.ocsp_stapling_rate), low ? 'warn' : 'good') : 'no handshake',
      text || TW.dash] };
  });
  return TW.panel('OCSP stapling and status per endpoint (' + slis.window + ')', 'ocsp',
    rows.length ? TW.table(['Endpoint', 'Stapled', 'OCSP status of recent results'], rows) : TW.empty('No results in this window.'),
    'Stapling counts certificates that name an OCSP responder; the status is what the staple or the responder said.');
};
