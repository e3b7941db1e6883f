/* Search-as-you-type for the search box: progressive enhancement (the form works without it).
   ARIA 1.2 combobox with a listbox popup: ArrowDown/ArrowUp move, Enter picks, Escape closes.
   Suggestions come from GET /api/suggest?q= (debounced; stale answers are dropped). */
(function () {
  "use strict";
  var DEBOUNCE_MS = 150;
  var MIN_CHARS = 2;
  var KIND_LABELS = { title: "Article", heading: "Section", medicine: "Medicine" };

  function enhance(input) {
    var url = input.getAttribute("data-suggest-url");
    var form = input.form;
    if (!url || !form || !window.fetch) { return; }
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    input.parentNode.appendChild(list);
    input.parentNode.appendChild(status);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("aria-expanded", "false");

    var timer = null;
    var controller = null;
    var active = -1;
    var items = [];
    var lastQuery = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      var options = list.children;
      if (!options.length) { return; }
      if (index < -1) { index = options.length - 1; }
      if (index >= options.length) { index = -1; }
      for (var i = 0; i < options.length; i++) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      input.value = item.text;
      close();
      form.submit();
    }

    function render(suggestions) {
      items = suggestions;
      list.textContent = "";
      active = -1;
      suggestions.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var label = document.createElement("span");
        label.className = "text";
        label.textContent = s.text;  /* text, never HTML */
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = KIND_LABELS[s.kind] || s.kind;
        li.appendChild(label);
        li.appendChild(kind);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });  /* keep focus in the box */
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      if (suggestions.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        status.textContent = suggestions.length + " suggestion" + (suggestions.length === 1 ? "" : "s") +
          ", use the up and down arrow keys to choose";
      } else {
        close();
        status.textContent = "";
      }
    }

    function fetchSuggestions() {
      var q = input.value.trim();
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (controller) { controller.abort(); }
      if (q.length < MIN_CHARS) { render([]); return; }
      controller = window.AbortController ? new AbortController() : null;
      fetch(url + "?q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined
      }).then(function (r) {
        return r.ok ? r.json() : { suggestions: [] };
      }).then(function (data) {
        if (input.value.trim() === q) { render(data.suggestions || []); }
      }).catch(function () { /* offline or aborted: the plain form still works */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden;
      if (e.key === "ArrowDown") {
        if (!open && items.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
        setActive(active + 1);
        e.preventDefault();
      } else if (e.key === "ArrowUp") {
        if (open) { setActive(active - 1); e.preventDefault(); }
      } else if (e.key === "Enter") {
        if (open && active >= 0) { e.preventDefault(); choose(active); }
      } else if (e.key === "Escape") {
        if (open) { e.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
    form.addEventListener("submit", function () { close(); });
  }

  function init() {
    var inputs = document.querySelectorAll("input[data-suggest-url]");
    for (var i = 0; i < inputs.length; i++) { enhance(inputs[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
