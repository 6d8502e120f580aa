// Live run: applies the server's row changes (server-sent events) to the
// progress table. The page is complete without it; this keeps it current.
(function () {
  "use strict";
  var table = document.getElementById("progress");
  if (!table) return;
  var tbody = table.tBodies[0];
  var rows = new Map();
  Array.prototype.forEach.call(tbody.rows, function (tr) { rows.set(tr.dataset.key, tr); });
  var pending = new Map(), counts = null, scheduled = false;
  var status = document.getElementById("run-status");
  var resume = document.getElementById("resume-form");

  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
  function stateSpan(state) { var s = document.createElement("span"); s.className = "state s-" + state; s.textContent = state; return s; }

  function flush() {
    scheduled = false;
    pending.forEach(function (r, key) {
      var tr = rows.get(key);
      if (!tr) {
        tr = document.createElement("tr");
        tr.dataset.key = key;
        var th = document.createElement("th"); th.scope = "row"; th.textContent = r.label;
        tr.appendChild(th); tr.appendChild(cell("")); var td = cell(""); tr.appendChild(td); tr.appendChild(cell(""));
        tbody.appendChild(tr);
        rows.set(key, tr);
      }
      tr.cells[1].textContent = r.step;
      var st = tr.cells[2];
      st.textContent = "";
      st.appendChild(stateSpan(r.state));
      tr.cells[3].textContent = r.detail || "";
    });
    pending.clear();
    if (counts) {
      ["done", "failed", "active", "queued", "total"].forEach(function (k) {
        var el = document.querySelector('[data-count="' + k + '"]');
        if (el) el.textContent = counts[k];
      });
    }
  }
  function schedule() { if (!scheduled) { scheduled = true; requestAnimationFrame(flush); } }

  // Approval gates: the time left counts down; a gate that starts waiting
  // or is decided (here, in another tab, in a terminal) reloads the page,
  // which the server renders with the right buttons.
  var gates = document.getElementById("gates");
  var lefts = document.querySelectorAll(".time-left[data-deadline]");
  function fmtLeft(ms) {
    var s = Math.round(ms / 1000);
    if (s <= 0) return "no time";
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
  }
  if (lefts.length) {
    setInterval(function () {
      Array.prototype.forEach.call(lefts, function (el) { el.textContent = fmtLeft(Date.parse(el.dataset.deadline) - Date.now()); });
    }, 1000);
  }

  if (table.dataset.live !== "true") return;
  var es = new EventSource("/runs/" + encodeURIComponent(table.dataset.run) + "/events?after=" + table.dataset.seq +
    "&gates=" + encodeURIComponent(gates ? gates.dataset.gates : ""));
  es.addEventListener("gates", function (e) {
    var c = JSON.parse(e.data);
    if (gates && c.gates !== gates.dataset.gates) {
      // Keep a comment being written: no reload then (a post on a gate
      // decided meanwhile is refused with who decided).
      var writing = Array.prototype.some.call(gates.querySelectorAll("textarea"), function (ta) { return ta.value !== ""; });
      if (!writing) { es.close(); window.location.reload(); }
    }
  });
  es.addEventListener("row", function (e) {
    var c = JSON.parse(e.data);
    pending.set(c.row.key, c.row);
    counts = c.counts;
    schedule();
  });
  es.addEventListener("run", function (e) {
    var c = JSON.parse(e.data);
    counts = c.counts;
    flush();
    es.close();
    if (status) { status.textContent = c.run; status.className = "state s-" + c.run; }
    if (gates) gates.hidden = true; // the run ended: nothing waits
    table.dataset.live = "false";
    if (c.run !== "succeeded" && resume) {
      // The server renders the resume form with what it needs (secret inputs).
      window.location.reload();
    }
  });
})();
