/* Keyboard use of the message grid (dash-ag-grid).
   - The grid moves between cells with the arrow keys; Tab leaves it (its tabToNextCell).
   - Enter on a cell opens its row's message, as a click does: the grid reports every click
     on a cell (cellClicked), the same cell again included, and a click on a cell is what
     Enter sends here. */
(function () {
  document.addEventListener(
    "keydown",
    function (event) {
      if (event.key !== "Enter" || !event.target.closest) {
        return;
      }
      const cell = event.target.closest(".detailed-grid .ag-cell");
      if (cell) {
        event.preventDefault();
        event.stopPropagation();
        cell.click();
      }
    },
    true
  );
})();
