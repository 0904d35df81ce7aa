/* Website channel: "use my location", the chosen photos, and one submit per click. No dependencies. */
(function () {
  "use strict";

  var locate = document.getElementById("locate");
  if (locate) {
    var status = document.getElementById("locate-status");
    var lat = document.getElementById("lat");
    var lon = document.getElementById("lon");
    if (!("geolocation" in navigator)) {
      locate.disabled = true;
      status.textContent = locate.dataset.unsupported;
    }
    locate.addEventListener("click", function () {
      status.textContent = locate.dataset.busy;
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          lat.value = position.coords.latitude.toFixed(6);
          lon.value = position.coords.longitude.toFixed(6);
          status.textContent = locate.dataset.done;
          locate.disabled = false;
        },
        function () {
          status.textContent = locate.dataset.failed;
          locate.disabled = false;
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  var photos = document.getElementById("photos");
  var list = document.getElementById("photo-list");
  if (photos && list) {
    photos.addEventListener("change", function () {
      var max = Number(photos.dataset.maxBytes || 0);
      list.textContent = "";
      Array.prototype.forEach.call(photos.files, function (file) {
        var item = document.createElement("li");
        item.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
        if (max && file.size > max) {
          item.className = "too-large";
        }
        list.appendChild(item);
      });
    });
  }

  // A second click while the first submit is on its way would only be deduplicated; avoid it.
  var form = document.querySelector("form[data-once]");
  if (form) {
    var button = form.querySelector("button[type=submit]");
    var label = button.textContent;
    form.addEventListener("submit", function () {
      button.disabled = true;
      button.textContent = button.dataset.busy;
    });
    window.addEventListener("pageshow", function () {
      button.disabled = false;
      button.textContent = label;
    });
  }
})();
