/* The calendar's month and day names in the page's language.
   Dash's date picker takes its date-fns locale from window.dateFns.locale, picking the one that
   matches the browser's languages, else the first it holds. The page's language is the one
   chosen in the top bar (<html lang>, set by the page callback), not the browser's: the
   locales the date-fns-*.js files register are kept aside, and window.dateFns.locale holds
   only the page's one, again each time the page's language changes. */
(function () {
  const LOCALE_OF = { es: "es", "pt-BR": "ptBR", en: "enUS" };
  const known = {};

  function follow() {
    const registered = window.dateFns && window.dateFns.locale;
    if (registered) {
      Object.assign(known, registered);
    }
    const key = LOCALE_OF[document.documentElement.lang] || "es";
    if (!known[key]) {
      return; // the locale files have not run yet: DOMContentLoaded comes back here
    }
    const only = {};
    only[key] = known[key];
    window.dateFns = Object.assign({}, window.dateFns, { locale: only });
  }

  follow();
  document.addEventListener("DOMContentLoaded", follow);
  new MutationObserver(follow).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["lang"],
  });
})();
