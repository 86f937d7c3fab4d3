// Trendwatch's only script, and optional: pointing at a legend entry brings its band forward in the chart.
// Everything on the page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var bands = document.querySelectorAll("svg.chart path.band");
  var entries = document.querySelectorAll(".legend li[data-country]");
  entries.forEach(function (entry) {
    var country = entry.getAttribute("data-country");
    entry.addEventListener("mouseenter", function () {
      entry.classList.add("active");
      bands.forEach(function (band) {
        band.classList.toggle("dim", band.getAttribute("data-country") !== country);
      });
    });
    entry.addEventListener("mouseleave", function () {
      entry.classList.remove("active");
      bands.forEach(function (band) { band.classList.remove("dim"); });
    });
  });
});
