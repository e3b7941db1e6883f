/* Search-as-you-type for the search box: progressive enhancement (the form works without it).
   ARIA 1.2 combobox with a listbox popup: ArrowDown/ArrowUp move, Enter or a click opens the chosen
   suggestion (an article, a section in its article, a search for a medicine), Escape closes; Enter
   with none chosen searches for what was typed. What was typed is bold in each suggestion, and a
   section says which article it is in.
   Suggestions come from GET /api/suggest?q= (debounced; stale answers are dropped). */
(function () {
  "use strict";
  var DEBOUNCE_MS = 150;
  var MIN_CHARS = 2;
  var KIND_LABELS = { title: "Article", heading: "Section", medicine: "Medicine" };
  var WORD = /[\p{L}\p{M}]+|\p{N}+(?:[.,]\p{N}+)?/gu;  /* kb.text's words: letters, or a number */

  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function words(s) {
    var out = [];
    var m;
    WORD.lastIndex = 0;
    while ((m = WORD.exec(s)) !== null) { out.push({ start: m.index, end: m.index + m[0].length, key: fold(m[0]) }); }
    return out;
  }

  /* Where the typed words start a run of the text's words (the last one as a prefix): [start, end) or null. */
  function typedSpan(text, typed) {
    var t = words(text);
    var q = words(typed);
    if (!q.length) { return null; }
    for (var k = 0; k + q.length <= t.length; k++) {
      var ok = true;
      for (var j = 0; j < q.length && ok; j++) {
        var w = t[k + j].key;
        ok = j < q.length - 1 ? w === q[j].key : w.indexOf(q[j].key) === 0;
      }
      if (ok) {
        var last = t[k + q.length - 1];
        return [t[k].start, Math.min(last.end, last.start + q[q.length - 1].key.length)];
      }
    }
    return null;
  }

  /* The text as nodes, with what was typed in <strong>; text, never HTML. */
  function labelled(text, typed) {
    var span = document.createElement("span");
    span.className = "text";
    var at = typedSpan(text, typed);
    if (!at) {
      span.textContent = text;
      return span;
    }
    var strong = document.createElement("strong");
    strong.textContent = text.slice(at[0], at[1]);
    span.appendChild(document.createTextNode(text.slice(0, at[0])));
    span.appendChild(strong);
    span.appendChild(document.createTextNode(text.slice(at[1])));
    return span;
  }

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
      if (item.url && item.url.charAt(0) === "/" && item.url.charAt(1) !== "/") {
        window.location.assign(item.url);  /* a path of this site, never another origin */
      } else {
        form.submit();
      }
    }

    function render(suggestions, typed) {
      items = suggestions;
      list.textContent = "";
      active = -1;
      suggestions.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var main = document.createElement("span");
        main.className = "main";
        main.appendChild(labelled(s.text, typed));
        if (s.kind === "heading" && s.article_title) {
          var where = document.createElement("span");
          where.className = "context";
          where.textContent = "in " + s.article_title;
          main.appendChild(document.createTextNode(" "));
          main.appendChild(where);
        }
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = KIND_LABELS[s.kind] || s.kind;
        li.appendChild(main);
        li.appendChild(document.createTextNode(" "));
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
      if (q.length < MIN_CHARS) { render([], q); return; }
      controller = window.AbortController ? new AbortController() : null;
      fetch(url + "?q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined
      }).then(function (r) {
        return r.ok ? r.json() : { suggestions: [] };
      }).then(function (data) {
        if (input.value.trim() === q) { render(data.suggestions || [], q); }
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
