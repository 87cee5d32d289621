/* The calendar's and the date boxes' month and day names in the page's language.
   Dash's date picker takes its date-fns locale from window.dateFns.locale when it formats a
   date, picking the one that matches the browser's languages, else the first it holds. The
   page's language is not the browser's: it is the one chosen in the top bar (the language
   store in localStorage, kept with the profile language of its moment), else the profile's
   (data-profile-language on <html>), as dashboard/callbacks/common.language_of decides on
   the server. It is read when the picker formats, so a page drawn in a new language formats
   in it at once (<html lang> is set only after the page is drawn).
   The locales the date-fns-*.js files register are kept aside; window.dateFns.locale then
   shows only the page language's one. */
(function () {
  const LOCALE_OF = { es: "es", "pt-BR": "ptBR", en: "enUS" };
  const STORE_KEY = "language-store";
  const known = {};

  function pageLanguage() {
    const root = document.documentElement;
    const profile = root.dataset.profileLanguage || root.lang;
    let stored = null;
    try {
      stored = JSON.parse(window.localStorage.getItem(STORE_KEY));
    } catch (error) {
      stored = null;
    }
    if (stored && typeof stored === "object") {
      return stored.profile === profile && stored.language ? stored.language : profile;
    }
    return typeof stored === "string" && stored ? stored : profile;
  }

  function currentKey() {
    const key = LOCALE_OF[pageLanguage()] || "es";
    return known[key] ? key : Object.keys(known)[0];
  }

  function install() {
    Object.assign(known, (window.dateFns && window.dateFns.locale) || {});
    const locales = new Proxy(
      {},
      {
        ownKeys: function () {
          const key = currentKey();
          return key ? [key] : [];
        },
        getOwnPropertyDescriptor: function (target, key) {
          return key === currentKey()
            ? { value: known[key], enumerable: true, configurable: true, writable: true }
            : undefined;
        },
        get: function (target, key) {
          return key === currentKey() ? known[key] : undefined;
        },
      }
    );
    window.dateFns = Object.assign({}, window.dateFns, { locale: locales });
  }

  // After every script of the page has run, the date-fns locale files included.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", install);
  } else {
    install();
  }
})();
