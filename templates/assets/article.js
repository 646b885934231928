// Small progressive enhancements; the article reads fully without script.
// Tooltips (citation and footnote previews) open on hover and keyboard focus through CSS alone;
// here, a tap on a touch screen toggles them, and Escape closes them.
(function () {
  'use strict';
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && document.activeElement) document.activeElement.blur();
  });
})();
