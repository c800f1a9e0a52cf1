// Progressive enhancement of forms (the forms work without it):
// - a slider marked data-slider-for="<number input id>" moves with that number and sets it;
// - a block marked data-shown-when="<select id>=<value>[,<value>...]" (or "!=") is shown only
//   while that select's value is (or is not) one of the values;
// - a select's chosen option's data-help is shown in the element marked
//   data-option-help-for="<select id>".
(function () {
  "use strict";
  document.querySelectorAll("input[type=range][data-slider-for]").forEach(function (slider) {
    var number = document.getElementById(slider.getAttribute("data-slider-for"));
    if (!number) return;
    var follow = function () { if (number.value !== "") slider.value = number.value; };
    slider.addEventListener("input", function () {
      number.value = slider.value;
      number.dispatchEvent(new Event("change", { bubbles: true }));
    });
    number.addEventListener("input", follow);
    number.addEventListener("change", follow);
    follow();
  });

  document.querySelectorAll("[data-shown-when]").forEach(function (block) {
    var rule = block.getAttribute("data-shown-when").match(/^([^!=]+)(!?=)(.*)$/);
    if (!rule) return;
    var select = document.getElementById(rule[1]);
    if (!select) return;
    var values = rule[3].split(","), negated = rule[2] === "!=";
    var apply = function () { block.hidden = (values.indexOf(select.value) >= 0) === negated; };
    select.addEventListener("change", apply);
    apply();
  });

  document.querySelectorAll("[data-option-help-for]").forEach(function (help) {
    var select = document.getElementById(help.getAttribute("data-option-help-for"));
    if (!select) return;
    var apply = function () {
      var option = select.options[select.selectedIndex];
      help.textContent = (option && option.getAttribute("data-help")) || "";
      help.hidden = !help.textContent;
    };
    select.addEventListener("change", apply);
    apply();
  });
})();
