// Progressive enhancement of forms: sliders show their value, and a block marked
// data-shown-when="<select id>=<value>" is shown only while that select has that value.
(function () {
  "use strict";
  document.querySelectorAll('input[type="range"]').forEach(function (slider) {
    var output = document.querySelector('output[for="' + slider.id + '"]');
    if (!output) return;
    var show = function () { output.textContent = slider.value; };
    slider.addEventListener("input", show);
    show();
  });
  document.querySelectorAll("[data-shown-when]").forEach(function (block) {
    var rule = block.getAttribute("data-shown-when").split("=");
    var select = document.getElementById(rule[0]);
    if (!select) return;
    var apply = function () { block.hidden = select.value !== rule[1]; };
    select.addEventListener("change", apply);
    apply();
  });
})();
