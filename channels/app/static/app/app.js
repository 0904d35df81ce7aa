/* The citizen app: a client of /api/app/v1/. The bearer token stays in this phone's storage. */
(function () {
  "use strict";

  var TOKEN_KEY = "gridline.app.token";
  var PHONE_KEY = "gridline.app.phone";
  var S = JSON.parse(document.getElementById("strings").textContent);
  var $ = function (id) { return document.getElementById(id); };

  if ("serviceWorker" in navigator) {
    // Offline start and installability; the API itself is never cached.
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function api(path, options) {
    options = options || {};
    var headers = options.headers || {};
    var token = localStorage.getItem(TOKEN_KEY);
    if (token) { headers.Authorization = "Bearer " + token; }
    // Errors come back in the page's language (zh-CN or en), as a message plus a stable code.
    headers["Accept-Language"] = document.documentElement.lang || "zh-CN";
    options.headers = headers;
    return fetch(path, options).then(function (response) {
      if (response.status === 204) { return {}; }
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401 && token) { forget(); show(); }
        if (!response.ok) { throw new Error(body.error || S.error); }
        return body;
      });
    }, function () { throw new Error(S.offline); });
  }

  function postJSON(path, body) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  function say(el, text, kind) {
    el.textContent = text;
    el.className = "status" + (kind ? " " + kind : "");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // --- sign-in ---------------------------------------------------------------------------------
  $("get-code").addEventListener("click", function () {
    say($("sign-in-status"), "");
    postJSON("/api/app/v1/auth/code", { phone: $("phone").value }).then(function () {
      say($("sign-in-status"), S.code_sent, "ok");
      $("code").focus();
    }, function (err) { say($("sign-in-status"), err.message, "error"); });
  });

  $("sign-in-button").addEventListener("click", function () {
    postJSON("/api/app/v1/auth/verify", { phone: $("phone").value, code: $("code").value }).then(function (body) {
      localStorage.setItem(TOKEN_KEY, body.token);
      localStorage.setItem(PHONE_KEY, body.phone);
      show();
    }, function (err) { say($("sign-in-status"), err.message, "error"); });
  });

  function forget() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(PHONE_KEY);
  }

  $("sign-out").addEventListener("click", function () {
    postJSON("/api/app/v1/auth/sign-out", {}).catch(function () {}).then(function () { forget(); show(); });
  });

  // --- tabs --------------------------------------------------------------------------------------
  var tabs = document.querySelectorAll("#tabs button");
  function openTab(name) {
    Array.prototype.forEach.call(tabs, function (button) {
      var on = button.dataset.tab === name;
      button.setAttribute("aria-selected", on ? "true" : "false");
      $("tab-" + button.dataset.tab).hidden = !on;
    });
    if (name === "mine") { loadMine(); }
  }
  Array.prototype.forEach.call(tabs, function (button) {
    button.addEventListener("click", function () { openTab(button.dataset.tab); });
  });

  function show() {
    var signedIn = !!localStorage.getItem(TOKEN_KEY);
    $("sign-in").hidden = signedIn;
    $("tabs").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    $("who").textContent = signedIn ? localStorage.getItem(PHONE_KEY) || "" : "";
    if (signedIn) { openTab("report"); } else { $("tab-report").hidden = true; $("tab-mine").hidden = true; }
  }

  // --- reporting ----------------------------------------------------------------------------------
  var reportKey = newKey();
  $("locate").addEventListener("click", function () {
    if (!("geolocation" in navigator)) { $("point").textContent = S.locate_failed; return; }
    navigator.geolocation.getCurrentPosition(function (position) {
      $("lat").value = position.coords.latitude.toFixed(6);
      $("lon").value = position.coords.longitude.toFixed(6);
      $("point").textContent = S.located + " " + $("lat").value + ", " + $("lon").value;
    }, function () { $("point").textContent = S.locate_failed; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  $("report-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = $("report-submit");
    button.disabled = true;
    $("report-done").hidden = true;
    $("report-error").hidden = true;
    // One key per report: a retry after a lost answer is stored once.
    api("/api/app/v1/reports", { method: "POST", headers: { "Idempotency-Key": reportKey }, body: new FormData($("report-form")) })
      .then(function (body) {
        $("report-done").textContent = S.sent + " " + body.case_number;
        $("report-done").hidden = false;
        $("report-form").reset();
        $("point").textContent = "";
        reportKey = newKey();
      }, function (err) {
        $("report-error").textContent = S.error + ": " + err.message;
        $("report-error").hidden = false;
      })
      .then(function () { button.disabled = false; });
  });

  // --- my reports ---------------------------------------------------------------------------------
  function reportItem(report) {
    var item = el("li");
    item.id = "case-" + report.case_number;
    var meta = el("div", "meta");
    meta.appendChild(el("strong", "", report.case_number));
    meta.appendChild(el("span", "badge " + report.status, report.status_text));
    item.appendChild(meta);
    item.appendChild(el("p", "", report.summary));
    item.appendChild(el("div", "meta", report.created_local));
    if (report.merged_into) { item.appendChild(el("p", "point", S.merged_into + " " + report.merged_into)); }
    if (report.result) { item.appendChild(el("p", "result", S.result + ": " + report.result)); }
    if (report.satisfaction) {
      item.appendChild(el("p", "status ok", S.rated + ": " + S["satisfaction." + report.satisfaction]));
    } else if (report.can_rate) {
      var rating = el("div", "choice");
      rating.appendChild(el("span", "point", S.rate));
      [1, 2, 3].forEach(function (score) {
        var button = el("button", "secondary", S["satisfaction." + score]);
        button.type = "button";
        button.addEventListener("click", function () {
          postJSON("/api/app/v1/reports/" + report.case_number + "/rating", { satisfaction: score }).then(function (updated) {
            item.replaceWith(reportItem(updated));
          }, function () {});
        });
        rating.appendChild(button);
      });
      item.appendChild(rating);
    }
    return item;
  }

  function loadMine() {
    api("/api/app/v1/reports").then(function (body) {
      var list = $("mine");
      list.textContent = "";
      body.reports.forEach(function (report) { list.appendChild(reportItem(report)); });
      $("no-reports").hidden = body.reports.length > 0;
    }, function () {});
  }

  show();
})();
