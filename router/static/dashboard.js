// The dashboard's only script: reload every 15 s so the figures stay current, but never while an
// operator is typing a reason (a reload would lose it), and ask before a control is sent.
(function () {
  "use strict";
  var RELOAD_MS = 15000;
  function typing() {
    var fields = document.querySelectorAll("input[name=reason]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value || fields[i] === document.activeElement) return true;
    }
    return false;
  }
  function tick() {
    if (!typing() && document.visibilityState !== "hidden") window.location.replace("/dashboard");
    else window.setTimeout(tick, RELOAD_MS);
  }
  var forms = document.querySelectorAll("form.control");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function (event) {
      var label = event.target.querySelector("button").textContent;
      if (!window.confirm(label + "?")) event.preventDefault();
    });
  }
  if (document.getElementById("dashboard")) window.setTimeout(tick, RELOAD_MS);
})();
