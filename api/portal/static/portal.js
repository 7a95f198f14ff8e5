// Progressive enhancement only: every page works without JavaScript.
// When an in-page link (an exception's event, a genealogy box) is followed, move keyboard focus
// to its target so the next Tab continues from there and screen readers announce it.
(function () {
  "use strict";
  function focusTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) { return; }
    var target = document.getElementById(id);
    if (target && target.hasAttribute("tabindex")) { target.focus({ preventScroll: false }); }
  }
  window.addEventListener("hashchange", focusTarget);
  document.addEventListener("DOMContentLoaded", focusTarget);
})();
