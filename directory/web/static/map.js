// The map beside the list (or of one workshop on its profile), drawn with Leaflet from the
// list itself: marker n is result n, so the two never disagree. Hovering or focusing a result
// lights its marker; choosing a marker moves the focus to its result. The list stays the way
// to use the page with a keyboard or a screen reader: the markers are not extra tab stops.
"use strict";
(function () {
  var box = document.getElementById("map");
  if (!box || typeof L === "undefined") return;
  box.hidden = false;
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", box.dataset.label);
  var map = L.map(box, { scrollWheelZoom: false });
  L.tileLayer(box.dataset.tiles, {
    maxZoom: 19,
    attribution: box.dataset.attribution,
  }).addTo(map);

  var rows = document.querySelectorAll("ol.results li.result");
  var points = rows.length ? Array.prototype.slice.call(rows) : [box];
  var where = function (el) { return [parseFloat(el.dataset.lat), parseFloat(el.dataset.lng)]; };
  // The view first: a map without one draws no marker yet.
  if (rows.length) {
    var bounds = points.map(where);
    bounds.push([parseFloat(box.dataset.originLat), parseFloat(box.dataset.originLng)]);
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
  } else {
    map.setView(where(box), 15);
  }
  var markers = [];
  points.forEach(function (row, i) {
    var at = where(row);
    var marker = L.marker(at, {
      keyboard: false,
      title: row.dataset.name,
      icon: L.divIcon({
        className: "pin",
        html: rows.length ? String(i + 1) : "",
        iconSize: [28, 28],
        iconAnchor: [14, 14],
      }),
    }).addTo(map);
    marker.getElement().setAttribute("aria-hidden", "true");
    markers.push(marker);
    if (row === box) return;
    var light = function (on) {
      marker.getElement().classList.toggle("lit", on);
      row.classList.toggle("lit", on);
    };
    row.addEventListener("mouseenter", function () { light(true); });
    row.addEventListener("mouseleave", function () { light(false); });
    row.addEventListener("focusin", function () { light(true); });
    row.addEventListener("focusout", function () { light(false); });
    marker.on("click", function () {
      var link = row.querySelector("h3 a");
      row.scrollIntoView({ block: "nearest" });
      if (link) link.focus();
    });
  });
  box.dataset.markers = String(markers.length);
})();
