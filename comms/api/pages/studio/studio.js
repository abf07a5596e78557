// Reloads the page when a template file changes; everything else works without this script.
(function () {
  "use strict";
  var body = document.body;
  var token = body.dataset.token;
  var url = body.dataset.changes;
  if (!token || !url) { return; }
  var badge = document.getElementById("watching");
  if (badge) { badge.hidden = false; }
  var POLL_MS = 1000;
  function refresh() {
    var form = document.getElementById("paste-form");
    if (body.dataset.pasted === "1" && form) { form.submit(); } else { window.location.reload(); }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.token && data.token !== token) { refresh(); return; }
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }
  window.setTimeout(poll, POLL_MS);
})();
