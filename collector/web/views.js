/*
 * views.js - the three views of the dashboard, as the SRE practice asks:
 *   executive  overall handshake success, certificates expiring in the next
 *              30 days, incidents of the last 90 days, error budget consumed
 *              per SLO, and the regional grid;
 *   on-call    firing alerts, the regional grid, live success per service
 *              (with mTLS failure and SNI mismatch rates), recent TLS errors,
 *              certificates expiring within 7 days, probes;
 *   debug      handshake latency distribution per endpoint (with cipher
 *              fallback), version and cipher per profile, OCSP stapling and
 *              status per endpoint, the raw reason of recent failures.
 * A view is a list of slots: what to fetch and how to show it. app.js loads
 * every slot at once and shows a failed one as an error in its own place,
 * so one slow or broken endpoint never blanks the page.
 */
'use strict';

TW.filterParams = function (st) {
  return { service: st.service, label: st.label ? [st.label] : [] };
};

function gridSlot(st) {
  return {
    title: 'Regional health grid', cls: 'wide',
    load: function () {
      var p = TW.filterParams(st);
      p.window = st.window;
      return TW.api('grid', p);
    },
    render: function (g) {
      return TW.panel('Regional health grid (' + g.window + ')', 'wide grid-panel', TW.grid(g),
        'Success over the window per target and region; a cell lists the profiles that fail and why.');
    }
  };
}

function matchesService(st) {
  return function (r) { return !st.service || r.service === st.service; };
}

TW.views = {
  exec: function (st) {
    var since90 = new Date(Date.now() - 90 * 86400000).toISOString();
    return [
      {
        title: 'Summary', cls: 'wide',
        load: function () {
          var p = TW.filterParams(st);
          p.window = st.window;
          return Promise.all([TW.api('slis', p),
            TW.api('certificates', { expiring_within: '30d', service: st.service, limit: 1000 }),
            TW.api('alerts', { state: 'all', since: since90, limit: 1000 }),
            TW.api('alerts', { state: 'firing', limit: 1000 })]);
        },
        render: function (r) {
          var all = r[0].items[0] || { success_rate: null, attempts: 0 };
          var fired = r[2].items.filter(function (a) { return a.firing_since; }).length;
          function stat(label, value, cls, sub) {
            return TW.h('div', { class: 'stat ' + (cls || '') }, TW.h('div', { class: 'stat-v' }, value),
              TW.h('div', { class: 'stat-l' }, label), sub ? TW.h('div', { class: 'sub' }, sub) : null);
          }
          var ok = all.success_rate === null || all.success_rate >= 0.99;
          return TW.panel('Summary', 'wide stats', [
            stat('handshake success, ' + st.window, TW.pct(all.success_rate), ok ? 'good' : 'bad', all.attempts + ' results'),
            stat('certificates expiring within 30 days', String(r[1].items.length), r[1].items.length ? 'warn' : 'good'),
            stat('incidents in 90 days', String(fired), fired ? 'warn' : 'good'),
            stat('alerts firing now', String(r[3].items.length), r[3].items.length ? 'bad' : 'good')]);
        }
      },
      { title: 'Error budget', load: function () { return TW.api('slos'); }, render: TW.slosPanel },
      {
        title: 'Certificates expiring in the next 30 days',
        load: function () { return TW.api('certificates', { expiring_within: '30d', service: st.service }); },
        render: function (c) { return TW.certsPanel(c, 'Certificates expiring in the next 30 days'); }
      },
      { title: 'Incidents', load: function () { return TW.api('alerts', { state: 'all', since: since90, limit: 1000 }); }, render: TW.incidentsPanel },
      gridSlot(st)
    ];
  },

  oncall: function (st) {
    return [
      { title: 'Firing alerts', cls: 'wide', load: function () { return TW.api('alerts', { state: 'firing' }); }, render: function (a) { return TW.alertsPanel(a); } },
      gridSlot(st),
      {
        title: 'Live success per service',
        load: function () {
          var p = TW.filterParams(st);
          p.window = st.window;
          p.group_by = 'service';
          return TW.api('slis', p);
        },
        render: TW.servicesPanel
      },
      {
        title: 'Recent TLS errors',
        load: function () { return TW.api('results', { limit: 500 }); },
        render: function (r) {
          r.items = r.items.filter(matchesService(st));
          return TW.failuresPanel(r, 'Recent TLS errors', 15);
        }
      },
      {
        title: 'Certificates expiring within 7 days',
        load: function () { return TW.api('certificates', { expiring_within: '7d', service: st.service }); },
        render: function (c) { return TW.certsPanel(c, 'Certificates expiring within 7 days'); }
      },
      { title: 'Probes', load: function () { return TW.api('probes'); }, render: TW.probesPanel }
    ];
  },

  debug: function (st) {
    return [
      {
        title: 'Latency distribution', cls: 'wide',
        load: function () {
          var p = TW.filterParams(st);
          p.window = st.window;
          p.group_by = 'target';
          return TW.api('slis', p);
        },
        render: TW.latencyPanel
      },
      {
        title: 'Negotiation', load: function () {
          var p = TW.filterParams(st);
          p.limit = 1000;
          return TW.api('targets', p);
        }, render: TW.negotiationPanel
      },
      {
        title: 'OCSP',
        load: function () {
          var p = TW.filterParams(st);
          p.window = st.window;
          p.group_by = 'target';
          return Promise.all([TW.api('slis', p), TW.api('results', { limit: 1000 })]);
        },
        render: function (r) {
          r[1].items = r[1].items.filter(matchesService(st));
          return TW.ocspPanel(r[0], r[1]);
        }
      },
      {
        title: 'Raw reasons of recent failures', cls: 'wide',
        load: function () { return TW.api('results', { limit: 1000 }); },
        render: function (r) {
          r.items = r.items.filter(matchesService(st));
          return TW.failuresPanel(r, 'Raw reasons of recent failures', 50);
        }
      }
    ];
  }
};
