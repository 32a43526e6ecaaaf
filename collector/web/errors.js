/*
 * errors.js - loaded first and synchronously: every uncaught error and
 * unhandled promise rejection of the page is written into #js-errors (a
 * visible list, so a user sees that the page is broken, and the headless
 * browser test reads it from the DOM) and to the console.
 */
'use strict';
(function () {
  var early = [];
  function show(msg) {
    var box = document.getElementById('js-errors');
    if (!box) {
      early.push(msg);
      return;
    }
    var li = document.createElement('li');
    li.className = 'js-error';
    li.textContent = msg;
    box.appendChild(li);
    box.hidden = false;
  }
  window.twRecordError = show;
  window.addEventListener('error', function (e) {
    show('error: ' + e.message + ' (' + (e.filename || '?') + ':' + (e.lineno || 0) + ')');
  });
  window.addEventListener('unhandledrejection', function (e) {
    var r = e.reason;
    show('unhandled rejection: ' + (r && r.stack ? r.stack : String(r)));
  });
  document.addEventListener('DOMContentLoaded', function () {
    early.splice(0).forEach(show);
  });
})();
