// Small progressive enhancements; the article reads fully without script (every interpolation
// frame is also shown in its strip).
(function () {
  'use strict';
  // Interpolation sliders: the range input picks the frame shown in the large view. A range
  // input already works with mouse, touch and keyboard (arrows, Home, End).
  document.querySelectorAll('.interp').forEach(function (fig) {
    var input = fig.querySelector('input[type=range]');
    var view = fig.querySelector('.interp-view');
    var frames = view.querySelectorAll('.frame');
    function show() {
      var k = Number(input.value);
      frames.forEach(function (img, i) { img.classList.toggle('on', i === k); });
      view.setAttribute('data-frame-shown', String(k));
    }
    input.addEventListener('input', show);
    input.addEventListener('change', show);
    show();
  });
  // Escape closes a citation or footnote preview opened by keyboard focus.
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && document.activeElement) document.activeElement.blur();
  });
})();
