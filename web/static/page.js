/* Small conveniences, all progressive (every page works without them):
   - "/" anywhere outside a text field puts the cursor in the search box;
   - panels marked data-narrow-closed (the results' filters, an article's contents) start closed
     on a narrow screen, where they would push the text far down, and stay open on a wide one. */
(function () {
  "use strict";
  var NARROW = "(max-width: 55.99rem)";  /* the layout's one breakpoint, in kb.css */

  function typing(el) {
    if (!el || el === document.body) { return false; }
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) { return; }
    var box = document.querySelector("input[name=q]");
    if (!box) { return; }
    e.preventDefault();
    box.focus();
    box.select();
  });

  function panels() {
    var found = document.querySelectorAll("details[data-narrow-closed]");
    if (!found.length || !window.matchMedia) { return; }
    var narrow = window.matchMedia(NARROW);
    function apply() {
      for (var i = 0; i < found.length; i++) { found[i].open = !narrow.matches; }
    }
    apply();
    if (narrow.addEventListener) { narrow.addEventListener("change", apply); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", panels);
  } else {
    panels();
  }
})();
