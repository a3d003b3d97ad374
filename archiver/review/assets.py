"""The workbench's style sheet and script, served from its own origin (CSP ``'self'``).

The style is the HTML report's (``archiver.report.html_assets.CSS``) plus the
workbench's controls. The script makes the pages' decision buttons post to the
JSON API with the page's CSRF token, and nothing else: every page works
read-only without it.
"""

from __future__ import annotations

from ..report.html_assets import CSS as REPORT_CSS

CSS = REPORT_CSS + """
.top{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline;margin:0 0 6px}
.top nav a{margin-right:14px;font-weight:600}
.tile{display:block;color:inherit}.tile:hover{text-decoration:none;border-color:var(--c)}
form.filters{display:flex}
.filters input[type=search],.filters select{font:inherit;border:1px solid var(--line);border-radius:16px;
padding:3px 12px;background:var(--card);min-width:220px}
.filters button[type=submit]{background:#175cd3;color:#fff;border-color:#175cd3}
.review{margin:6px 0;padding:4px 10px;border-left:3px solid #175cd3;background:#eff4ff;font-size:13px}
.decide{display:grid;gap:8px;margin:8px 0}
.decide textarea,.decide input{font:inherit;border:1px solid var(--line);border-radius:6px;padding:6px 8px}
.decide textarea{min-height:54px}.decide input{max-width:360px}
.decide .buttons{display:flex;flex-wrap:wrap;gap:8px}
.decide button,.undo,.login button{font:inherit;font-weight:600;border:1px solid var(--line);border-radius:6px;
padding:5px 14px;cursor:pointer;background:var(--card)}
.decide button[value=accept]{border-color:var(--ok);color:var(--ok)}
.decide button[value=false-alarm]{border-color:var(--moved);color:var(--moved)}
.decide button[value=ignore]{border-color:var(--excluded);color:var(--excluded)}
.msg{min-height:1.5em;font-weight:600;color:var(--dead)}
table.grid{border-collapse:collapse;width:100%;font-size:13px;background:var(--card)}
.grid th,.grid td{text-align:left;vertical-align:top;padding:5px 10px 5px 0;border-top:1px solid #eef0f3}
.grid th{color:var(--muted);font-weight:600}
.grid td.url{word-break:break-all}
.undone td{color:#98a2b3;text-decoration:line-through}
.pager{display:flex;gap:14px;margin:10px 0}
.cite{font-size:13px}
.login{max-width:360px;margin:80px auto}.login input{font:inherit;width:100%;padding:6px 8px;margin:6px 0 12px}
"""

SCRIPT = """
(function () {
  "use strict";
  var d = document;
  var meta = d.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  function post(url, body, msg) {
    if (msg) { msg.textContent = "saving..."; }
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || ("HTTP " + response.status)); }
        location.reload();
      });
    }).catch(function (error) { if (msg) { msg.textContent = error.message; } });
  }
  var NAME = "archiver-reviewer";
  function reviewer() { try { return localStorage.getItem(NAME) || ""; } catch (e) { return ""; } }
  [].slice.call(d.querySelectorAll("form.decide")).forEach(function (form) {
    if (form.elements.by) { form.elements.by.value = reviewer(); }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = event.submitter;
      var by = form.elements.by ? form.elements.by.value.trim() : "";
      try { localStorage.setItem(NAME, by); } catch (e) { /* private mode: not remembered */ }
      var body = {decision: button.value, note: form.elements.note ? form.elements.note.value : "", by: by};
      if (button.getAttribute("data-host")) { body.host = button.getAttribute("data-host"); }
      else { body.link_id = Number(form.getAttribute("data-link")); }
      post("/api/decisions", body, form.querySelector(".msg"));
    });
  });
  [].slice.call(d.querySelectorAll("button.undo")).forEach(function (button) {
    button.addEventListener("click", function () {
      post("/api/decisions/" + button.getAttribute("data-undo") + "/undo", {by: reviewer()}, d.querySelector(".msg"));
    });
  });
  [].slice.call(d.querySelectorAll("button.copy")).forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy") || "";
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done); }
    });
  });
  d.body.setAttribute("data-ready", "1");
})();
""".strip()
