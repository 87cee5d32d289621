/* The "live" switch pauses while the page is hidden (another tab, a locked phone) and resumes
   when it shows again: the refreshes cost the server nothing nobody is looking at. */
(function () {
  document.addEventListener("visibilitychange", function () {
    const box = document.getElementById("live-switch");
    const status = document.getElementById("live-status");
    if (!box || !window.dash_clientside || !window.dash_clientside.set_props) {
      return;
    }
    const on = box.checked;
    window.dash_clientside.set_props("live-interval", { disabled: document.hidden || !on });
    if (on && document.hidden && status) {
      window.dash_clientside.set_props("live-status", { children: status.dataset.paused });
    }
  });
})();
