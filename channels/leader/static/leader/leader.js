/* The leader's page: flag an existing case (the new-case form is the console's generic loop action). */
(function () {
  "use strict";
  var form = document.getElementById("flag-case");
  if (!form) { return; }
  var token = document.querySelector("meta[name=csrf-token]").content;
  var error = document.getElementById("action-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = Object.fromEntries(new FormData(form));
    var url = form.dataset.urlTemplate.replace("NUMBER", encodeURIComponent(data.number.trim()));
    delete data.number;
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(data)
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return; }
      return response.json().then(function (body) {
        error.textContent = body.error || String(response.status);
        error.hidden = false;
      });
    });
  });
})();
