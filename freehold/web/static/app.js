// freehold web app: copy buttons on code, keyboard navigation, focus after a branch switch.
// Served from 'self' under a CSP with no inline script; it reads the page, never eval()s.
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

  function switchBranch(which) {
    var current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-item]") : null;
    var scope = current && current.querySelector(".fork") ? current : document;
    var link = scope.querySelector(".fork a." + which);
    if (link) link.click();
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

  document.addEventListener("DOMContentLoaded", function () { addCopyButtons(document); });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    addCopyButtons(document);
    var at = new URLSearchParams(window.location.search).get("at");
    var target = at && document.getElementById("m" + at);
    if (target) target.focus({ preventScroll: false });
  });
})();
