/* Cell renderers of the message grid (dash-ag-grid looks them up here by name). */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

/* The status as a coloured badge that also carries its name (never colour alone). */
dagcomponentfuncs.StatusBadge = function (props) {
  if (!props.value) {
    return null;
  }
  return React.createElement(
    "span",
    { className: "status-badge status-" + props.value },
    props.data.status_label
  );
};
