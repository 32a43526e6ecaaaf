/*
 * chart.js - small SVG charts built with DOM calls (no library): a line
 * chart of time series (gaps where a point is null) and a histogram. Each
 * series has a colour AND a dash pattern AND a legend entry with its name,
 * so colour is never the only way to tell lines apart.
 */
'use strict';

TW.palette = ['#1f5fa8', '#c0392b', '#2e8b57', '#8e44ad', '#d35400', '#16708a', '#7f6000', '#555555'];
TW.dashes = ['', '6 3', '2 3', '8 3 2 3', '1 2', '10 4', '4 4', '3 6'];

/* The smallest of 1, 2, 2.5, 5 x 10^k at or above v (axis ticks at quarters
 * of it stay round). */
TW.niceCeil = function (v) {
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  var steps = [1, 2, 2.5, 5, 10];
  for (var i = 0; i < steps.length; i++)
    if (steps[i] * p >= v) return steps[i] * p;
  return 10 * p;
};

/*
 * opts: {title, series: [{key, points: [{t: iso, v: number|null}]}],
 *        yMin, yMax (fixed bounds; else from the data), yFmt(v) -> text}
 * Returns a <figure> with the SVG and its legend.
 */
TW.lineChart = function (opts) {
  var W = 640, H = 220, L = 58, R = 12, T = 12, B = 28;
  var series = opts.series || [];
  var tmin = Infinity, tmax = -Infinity, vmin = Infinity, vmax = -Infinity;
  series.forEach(function (s) {
    s.points.forEach(function (p) {
      var t = new Date(p.t).getTime();
      if (t < tmin) tmin = t;
      if (t > tmax) tmax = t;
      if (p.v === null || p.v === undefined) return;
      if (p.v < vmin) vmin = p.v;
      if (p.v > vmax) vmax = p.v;
    });
  });
  var fig = TW.h('figure', { class: 'chart' }, TW.h('figcaption', null, opts.title));
  if (!isFinite(tmin) || !isFinite(vmin)) {
    fig.appendChild(TW.empty('no data in this window'));
    return fig;
  }
  var y0 = opts.yMin !== undefined ? opts.yMin : Math.min(0, vmin);
  var y1 = opts.yMax !== undefined ? opts.yMax : TW.niceCeil(vmax > y0 ? vmax * 1.1 : y0 + 1);
  if (tmax === tmin) tmax = tmin + 60000;
  var fmt = opts.yFmt || function (v) { return String(Math.round(v)); };
  function X(t) { return L + (t - tmin) / (tmax - tmin) * (W - L - R); }
  function Y(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }

  var svg = TW.s('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg', role: 'img',
    'aria-label': opts.title, preserveAspectRatio: 'xMidYMid meet' });
  for (var i = 0; i <= 4; i++) {
    var v = y0 + (y1 - y0) * i / 4;
    svg.appendChild(TW.s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'gridline' }));
    svg.appendChild(TW.s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(v)));
  }
  [tmin, (tmin + tmax) / 2, tmax].forEach(function (t, j) {
    var d = new Date(t);
    var label = (tmax - tmin > 2 * 86400000) ? d.toISOString().slice(5, 10) + ' ' + d.toISOString().slice(11, 16)
      : d.toISOString().slice(11, 16);
    svg.appendChild(TW.s('text', { x: X(t), y: H - 8, class: 'axis',
      'text-anchor': j === 0 ? 'start' : j === 2 ? 'end' : 'middle' }, label + (j === 2 ? 'Z' : '')));
  });
  var legend = TW.h('ul', { class: 'legend' });
  series.forEach(function (s, k) {
    var color = TW.palette[k % TW.palette.length], dash = TW.dashes[k % TW.dashes.length];
    var seg = [];
    function flush() {
      if (seg.length === 1) {
        svg.appendChild(TW.s('circle', { cx: seg[0][0], cy: seg[0][1], r: 2.5, fill: color }));
      } else if (seg.length > 1) {
        svg.appendChild(TW.s('polyline', { points: seg.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' '),
          fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash || null }));
      }
      seg = [];
    }
    s.points.forEach(function (p) {
      if (p.v === null || p.v === undefined) { flush(); return; }
      seg.push([X(new Date(p.t).getTime()), Y(p.v)]);
    });
    flush();
    var sw = TW.s('svg', { width: 28, height: 10, class: 'swatch', 'aria-hidden': 'true' },
      TW.s('line', { x1: 0, x2: 28, y1: 5, y2: 5, stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash || null }));
    legend.appendChild(TW.h('li', null, sw, ' ', s.key));
  });
  fig.appendChild(svg);
  fig.appendChild(legend);
  return fig;
};

/* A histogram of [{lower_ms, upper_ms, count}]: bars with their counts,
 * buckets labelled by their lower bound; empty leading/trailing buckets cut. */
TW.histogram = function (title, buckets) {
  var fig = TW.h('figure', { class: 'chart hist' }, TW.h('figcaption', null, title));
  var first = -1, last = -1, max = 0;
  buckets.forEach(function (b, i) {
    if (b.count > 0) { if (first < 0) first = i; last = i; }
    if (b.count > max) max = b.count;
  });
  if (first < 0) { fig.appendChild(TW.empty('no handshakes in this window')); return fig; }
  var bs = buckets.slice(first, last + 1);
  var W = 320, H = 120, B = 30, bw = (W - 8) / bs.length;
  var svg = TW.s('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg', role: 'img', 'aria-label': title });
  bs.forEach(function (b, i) {
    var h = (H - B - 14) * b.count / max;
    var x = 4 + i * bw;
    svg.appendChild(TW.s('rect', { x: x + 1, y: H - B - h, width: Math.max(1, bw - 2), height: h, class: 'bar' },
      TW.s('title', null, '[' + b.lower_ms + ', ' + (b.upper_ms === null ? '\u221e' : b.upper_ms) + ') ms: ' + b.count)));
    svg.appendChild(TW.s('text', { x: x + bw / 2, y: H - B - h - 3, 'text-anchor': 'middle', class: 'axis small' }, String(b.count)));
    /* with many buckets every other bound, so the labels do not collide */
    if (bs.length <= 10 || i % 2 === 0)
      svg.appendChild(TW.s('text', { x: x + bw / 2, y: H - B + 12, 'text-anchor': 'middle', class: 'axis small' }, String(b.lower_ms)));
  });
  svg.appendChild(TW.s('text', { x: W / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis small' }, 'handshake ms (bucket lower bound)'));
  fig.appendChild(svg);
  return fig;
};

/* A horizontal bar for a 0..1 fraction, with its text next to it. */
TW.meter = function (frac, text, cls) {
  var f = Math.max(0, Math.min(1, frac || 0));
  return TW.h('span', { class: 'meter ' + (cls || '') },
    TW.s('svg', { width: 100, height: 10, 'aria-hidden': 'true', class: 'meter-svg' },
      TW.s('rect', { x: 0, y: 0, width: 100, height: 10, class: 'meter-bg' }),
      TW.s('rect', { x: 0, y: 0, width: 100 * f, height: 10, class: 'meter-fg' })),
    ' ', text);
};
