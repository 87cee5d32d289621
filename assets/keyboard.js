/* Keyboard and mouse use of the message table.
   - Tab moves on past the table instead of being kept inside it.
   - Enter chooses the first row when no cell is chosen, or opens the chosen row again.
   - Clicking the already chosen cell opens its row again (the table reports only changes). */
(function () {
  function reopen(table) {
    const area = table.closest(".detailed-area");
    const button = area && area.querySelector(".reopen-detail");
    if (button) {
      button.click();
    }
  }

  document.addEventListener(
    "keydown",
    function (event) {
      const table = event.target.closest && event.target.closest(".dash-spreadsheet-container");
      if (!table) {
        return;
      }
      if (event.key === "Tab") {
        event.stopImmediatePropagation();
        return;
      }
      if (event.key === "Enter") {
        // The table would move its cell down on Enter; here Enter means "open".
        event.preventDefault();
        event.stopImmediatePropagation();
        if (table.querySelector("td.focused")) {
          reopen(table);
        } else {
          const first = table.querySelector("td.dash-cell");
          if (first) {
            first.click();
          }
        }
      }
    },
    true
  );

  document.addEventListener(
    "click",
    function (event) {
      const cell = event.target.closest && event.target.closest("td.dash-cell.focused");
      const table = cell && cell.closest(".dash-spreadsheet-container");
      if (table) {
        reopen(table);
      }
    },
    true
  );
})();
