/* Accessibility repairs of markup that Dash's and dash-bootstrap-components' widgets render
   and that no prop controls (axe-core, WCAG 2.1 AA, checked in
   tests/test_browser_accessibility.py):
   - the date range's wrapper carries the calendar popup's aria-expanded / aria-haspopup with
     no role that allows them: it becomes the group of its two date boxes;
   - a dropdown is reached through a focusable input hidden from screen readers that hands
     focus on to the dropdown's button: the button itself becomes the tab stop;
   - tabs used as a switch (their content is the page below) name a panel that does not exist
     and leave every tab out of the tab order: each tab says whether it is selected and can be
     reached with Tab;
   - the calendar names its buttons and year box in English only: the page's words for them
     are in #WIDGET_WORDS (dashboard/layouts/shell.py). */
(function () {
  function name(element, text) {
    if (element && text && element.getAttribute("aria-label") !== text) {
      element.setAttribute("aria-label", text);
    }
  }

  function nameCalendar(root) {
    const words = document.getElementById("widget-words");
    if (!words) {
      return;
    }
    root.querySelectorAll(".dash-datepicker-controls").forEach(function (controls) {
      const arrows = controls.querySelectorAll(".dash-datepicker-month-nav");
      name(arrows[0], words.dataset.previousMonth);
      name(arrows[arrows.length - 1], words.dataset.nextMonth);
      name(controls.querySelector("input.dash-input-element"), words.dataset.year);
      name(controls.querySelector(".dash-stepper-decrement"), words.dataset.yearDown);
      name(controls.querySelector(".dash-stepper-increment"), words.dataset.yearUp);
    });
  }

  function repair(root) {
    nameCalendar(root);
    root.querySelectorAll(".dash-datepicker-input-wrapper:not([role])").forEach(function (el) {
      el.setAttribute("role", "group");
    });
    root.querySelectorAll(".dash-dropdown-focus-target").forEach(function (proxy) {
      const button = proxy.nextElementSibling;
      if (proxy.tabIndex !== -1) {
        proxy.tabIndex = -1;
      }
      if (button && button.tagName === "BUTTON" && !button.disabled && button.tabIndex !== 0) {
        button.tabIndex = 0;
      }
    });
    root.querySelectorAll('.nav-tabs [role="tab"]').forEach(function (tab) {
      if (tab.hasAttribute("aria-controls")) {
        tab.removeAttribute("aria-controls");
      }
      const selected = tab.classList.contains("active") ? "true" : "false";
      if (tab.getAttribute("aria-selected") !== selected) {
        tab.setAttribute("aria-selected", selected);
      }
      if (tab.tabIndex !== 0) {
        tab.tabIndex = 0;
      }
    });
  }

  let pending = false;
  const observer = new MutationObserver(function () {
    if (pending) {
      return;
    }
    pending = true;
    // Once per frame, after React has written the changes.
    window.requestAnimationFrame(function () {
      pending = false;
      repair(document);
    });
  });
  function start() {
    repair(document);
    observer.observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["class", "tabindex", "aria-controls", "aria-label"],
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
