// freehold web app: copy buttons on code, keyboard navigation, focus after a branch switch,
// and carrying a conversation on: the composer, the streamed answer, Stop.
// Served from 'self' under a CSP with no inline script; it reads the page, never eval()s.
// Answer text arrives as NDJSON from a fetch (docs/decisions.md) and is shown as text only;
// once stored, the server's own rendering of the thread replaces it.
(function () {
  "use strict";

  function addCopyButtons(root) {
    var label = document.body.dataset.copy || "Copy";
    var done = document.body.dataset.copied || "Copied";
    root.querySelectorAll("pre.highlight").forEach(function (pre) {
      if (pre.dataset.copyReady) return;
      pre.dataset.copyReady = "1";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = label;
      button.addEventListener("click", function () {
        var code = pre.querySelector("code");
        var text = code ? code.textContent : pre.textContent;
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = done;
          window.setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
      // The button sits in the code's top-right corner: a wrapper holds both.
      var wrapper = document.createElement("div");
      wrapper.className = "code-block";
      pre.parentNode.insertBefore(wrapper, pre);
      wrapper.appendChild(pre);
      wrapper.appendChild(button);
    });
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-item]"));
  }

  function focusItem(step) {
    var all = items();
    if (!all.length) return;
    var index = all.indexOf(document.activeElement.closest ? document.activeElement.closest("[data-item]") : null);
    var next = all[Math.max(0, Math.min(all.length - 1, index + step))];
    if (index === -1) next = all[step > 0 ? 0 : all.length - 1];
    if (!next.hasAttribute("tabindex")) next.setAttribute("tabindex", "-1");
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  // A fork's arrows; where the visible path stops, "continues in another branch" is the next
  // branch and, on that branch, "the thread stops here" the previous one.
  var BRANCH_LINKS = { prev: ".fork a.prev, .branch-end a.passes", next: ".fork a.next, .branch-end a.more" };

  function switchBranch(which) {
    var current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-item]") : null;
    var scope = current && current.querySelector(".fork, .branch-end") ? current : document;
    var link = scope.querySelector(BRANCH_LINKS[which]);
    if (!link) return;
    // A key pressed just after a swap can come before htmx has bound the new links (it does so
    // once the swap settles): bind this one now, or the click would load the whole page.
    if (window.htmx) window.htmx.process(link);
    link.click();
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "/") {
      var box = document.getElementById("q");
      if (box) { event.preventDefault(); box.focus(); box.select(); }
    } else if (event.key === "j") {
      focusItem(1);
    } else if (event.key === "k") {
      focusItem(-1);
    } else if (event.key === "Enter") {
      var item = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest("[data-item]") : null;
      var link = item && item.querySelector("a[href]");
      if (link && item === document.activeElement) link.click();
    } else if (event.key === "[") {
      switchBranch("prev");
    } else if (event.key === "]") {
      switchBranch("next");
    }
  });

  // --- Continue from here, Regenerate, Stop ---------------------------------------------

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function focusComposer(form) {
    var field = form.querySelector("textarea") || form.querySelector("select, button");
    if (field) field.focus();
  }

  function readyComposer(form) {
    form.dataset.ready = "1";
    focusComposer(form);
    form.scrollIntoView({ block: "nearest" });
  }

  function closeComposers() {
    document.querySelectorAll("form.composer").forEach(function (form) {
      if (!form.dataset.busy && form.closest("#thread")) form.remove();
    });
  }

  function cancel(form) {
    if (form.dataset.busy) return;
    if (form.closest("#thread")) form.remove();
    else window.location.assign(form.dataset.back);
  }

  function setBusy(form, busy) {
    if (busy) form.dataset.busy = "1"; else delete form.dataset.busy;
    form.querySelectorAll("select, textarea, button").forEach(function (field) {
      field.disabled = busy;
    });
  }

  function refused(form, message) {
    var box = form.querySelector(".composer-error");
    box.textContent = message;
    box.hidden = false;
    form.hidden = false;
    setBusy(form, false);
    focusComposer(form);  // to change what was refused and send again
  }

  // What a refused request said: our JSON error, else the text of the guard's page.
  function reason(response) {
    var json = (response.headers.get("content-type") || "").indexOf("json") !== -1;
    return (json ? response.json().then(function (body) { return body.error; })
      : response.text().then(function (text) {
        var found = new DOMParser().parseFromString(text, "text/html").body;
        return found ? found.textContent.trim() : "";
      })).then(function (text) { return response.status + ": " + (text || response.statusText); });
  }

  function send(form) {
    var data = new URLSearchParams(new FormData(form));
    var live = form.querySelector("template.live").content.cloneNode(true);
    var prompt = live.querySelector(".live-prompt");
    var answer = live.querySelector(".live-answer");
    var turn = {
      form: form,
      answer: answer,
      text: answer.querySelector("[data-text]").appendChild(document.createTextNode("")),
      status: answer.querySelector("[data-status]"),
      notices: answer.querySelector("[data-notices]"),
      stop: answer.querySelector("[data-stop]"),
      finished: false
    };
    if (form.dataset.mode === "regenerate") prompt.remove();
    else prompt.querySelector("[data-prompt]").textContent = data.get("prompt");
    turn.stop.disabled = true;  // until the server names the turn
    form.querySelector(".composer-error").hidden = true;
    setBusy(form, true);
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/x-ndjson" }
    }).then(function (response) {
      if (!response.ok || !response.body) {
        return reason(response).then(function (text) { refused(form, text); });
      }
      form.hidden = true;
      form.after(live);
      return read(response.body.getReader(), turn);
    }).catch(function (error) {
      if (!form.hidden) refused(form, String(error));
      else if (!turn.finished) ended(turn, form.dataset.failed + " " + String(error));
    });
  }

  function read(reader, turn) {
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          if (!turn.finished) ended(turn, turn.form.dataset.failed);
          return undefined;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var lines = buffer.split("\n");
        buffer = lines.pop();
        lines.forEach(function (line) { if (line) handle(turn, JSON.parse(line)); });
        return pump();
      });
    }
    return pump();
  }

  function note(turn, text, kind) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    turn.notices.appendChild(item);
  }

  function handle(turn, event) {
    if (event.event === "start") {
      turn.answer.dataset.turn = event.turn;
      turn.stop.disabled = false;
      event.warnings.forEach(function (text) { note(turn, "⚠ " + text, "warning"); });
    } else if (event.event === "text") {
      turn.text.appendData(event.text);
    } else if (event.event === "notice") {
      note(turn, "… " + event.text, "notice");
    } else if (event.event === "done") {
      turn.finished = true;
      turn.status.textContent = event.reply.status;
      turn.answer.setAttribute("aria-busy", "false");
      show(event.url);
    } else if (event.event === "error") {
      ended(turn, turn.form.dataset.failed + " " + event.message);
    }
  }

  function ended(turn, message) {
    turn.finished = true;
    turn.status.textContent = message;
    turn.status.classList.add("failed");
    turn.stop.remove();
    turn.answer.setAttribute("aria-busy", "false");
  }

  // The answer as stored, rendered by the server: the thread through it (a new branch).
  function show(url) {
    if (!document.getElementById("thread")) {
      window.location.assign(url);
      return;
    }
    window.history.replaceState(null, "", url);
    htmx.ajax("GET", url, { target: "#thread", select: "#thread", swap: "outerHTML" });
  }

  function stop(button) {
    var answer = button.closest(".live-answer");
    if (!answer || !answer.dataset.turn) return;
    button.disabled = true;
    answer.querySelector("[data-status]").textContent = button.dataset.stopping;
    fetch("/turns/" + encodeURIComponent(answer.dataset.turn) + "/stop", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.composer")) return;
    event.preventDefault();
    if (!form.dataset.busy) send(form);
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    var cancelling = target.closest("form.composer [data-cancel]");
    if (cancelling) cancel(cancelling.closest("form.composer"));
    var stopping = target.closest("[data-stop]");
    if (stopping) stop(stopping);
  });

  document.addEventListener("keydown", function (event) {
    var form = event.target.closest ? event.target.closest("form.composer") : null;
    if (!form) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      cancel(form);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons(document);
    document.querySelectorAll("form.composer").forEach(readyComposer);
  });

  // --- What htmx could not do (a star refused: the archive busy) ---------------------------
  // htmx swaps nothing for an error: the error page's line (web/failures.py) is said at the
  // top of the page instead, and goes at the next answer that succeeds.

  function failure() {
    var said = document.getElementById("failure");
    if (!said) {
      said = document.createElement("p");
      said.id = "failure";
      said.className = "notice error";
      said.setAttribute("role", "alert");
      document.getElementById("main").prepend(said);
    }
    return said;
  }

  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var line = new DOMParser().parseFromString(xhr.responseText, "text/html")
      .querySelector(".notice.error");
    var said = failure();
    said.textContent = line ? line.textContent : xhr.status + ": " + xhr.statusText;
    said.hidden = false;
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var said = document.getElementById("failure");
    if (said && event.detail.successful) said.hidden = true;
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var from = event.detail.elt;
    if (from.matches && from.matches("a.continue, a.regenerate")) closeComposers();
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    addCopyButtons(document);
    var composer = document.querySelector("form.composer:not([data-ready])");
    if (composer) {
      readyComposer(composer);
      return;
    }
    var at = new URLSearchParams(window.location.search).get("at");
    var target = at && document.getElementById("m" + at);
    if (target) target.focus({ preventScroll: false });
  });
})();
