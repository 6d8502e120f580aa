// Filters the accounts table as you type (the form still works without it).
(function () {
  "use strict";
  var input = document.querySelector('input[data-filter="accounts"]');
  var table = document.getElementById("accounts");
  var count = document.getElementById("accounts-count");
  if (!input || !table) return;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var total = count ? count.textContent.replace(/^\d+ of /, "") : "";
  var timer = 0;
  function apply() {
    var q = input.value.trim().toLowerCase(), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = q === "" || texts[i].indexOf(q) >= 0;
      rows[i].hidden = !hit;
      if (hit) shown++;
    }
    if (count) count.textContent = shown + " of " + total;
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 80); });
})();
