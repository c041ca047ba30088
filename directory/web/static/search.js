// The search form, enhanced: place suggestions as you type (GET /v1/places, the offline
// gazetteer) and "use my position", asked only when the button is pressed. Without this
// script the form works the same, by typing a place.
"use strict";
(function () {
  var form = document.querySelector("form[data-suggest]");
  if (!form) return;
  var place = form.querySelector("#place");
  var list = form.querySelector("#place-suggestions");
  var lat = form.querySelector('[data-position="lat"]');
  var lng = form.querySelector('[data-position="lng"]');
  var timer = null;
  var last = "";

  place.addEventListener("input", function () {
    lat.value = "";
    lng.value = "";
    place.required = true;
    var text = place.value.trim();
    clearTimeout(timer);
    if (text.length < 2 || text === last) return;
    timer = setTimeout(function () {
      last = text;
      fetch(form.dataset.suggest + "?limit=8&q=" + encodeURIComponent(text), {
        headers: { Accept: "application/json" },
      })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) {
          list.replaceChildren();
          body.items.forEach(function (p) {
            var option = document.createElement("option");
            option.value = p.postcode ? p.label + " " + p.postcode : p.label;
            list.appendChild(option);
          });
        })
        .catch(function () { /* suggestions are a help: typing still works */ });
    }, 150);
  });

  var locate = form.querySelector("[data-locate]");
  var status = form.querySelector("[data-locate-status]");
  if (!locate || !navigator.geolocation) return;
  locate.hidden = false;
  locate.addEventListener("click", function () {
    status.textContent = locate.dataset.busy;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        lat.value = position.coords.latitude.toFixed(5);
        lng.value = position.coords.longitude.toFixed(5);
        place.value = "";
        place.required = false;
        form.submit();
      },
      function () { status.textContent = locate.dataset.denied; },
      { maximumAge: 300000, timeout: 10000 }
    );
  });
})();
