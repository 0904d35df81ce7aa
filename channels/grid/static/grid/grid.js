/* The grid worker's page: a client of /api/v1/grid/. The bearer token stays in this phone's storage. */
(function () {
  "use strict";

  var TOKEN_KEY = "gridline.grid.token";
  var WORKER_KEY = "gridline.grid.worker";
  var S = JSON.parse(document.getElementById("strings").textContent);
  var $ = function (id) { return document.getElementById(id); };

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function api(path, options) {
    options = options || {};
    var headers = options.headers || {};
    var token = localStorage.getItem(TOKEN_KEY);
    if (token) { headers.Authorization = "Bearer " + token; }
    options.headers = headers;
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401 && token) { signOut(); }
        if (!response.ok) { var err = new Error(body.error || S.error); err.body = body; throw err; }
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

  // --- sign-in ---------------------------------------------------------------------------------
  $("get-code").addEventListener("click", function () {
    say($("sign-in-status"), "");
    postJSON("/api/v1/grid/auth/code", { phone: $("phone").value }).then(function () {
      say($("sign-in-status"), S.code_sent, "ok");
      $("code").focus();
    }, function (err) { say($("sign-in-status"), err.message, "error"); });
  });

  $("sign-in-button").addEventListener("click", function () {
    postJSON("/api/v1/grid/auth/verify", { phone: $("phone").value, code: $("code").value }).then(function (body) {
      localStorage.setItem(TOKEN_KEY, body.token);
      localStorage.setItem(WORKER_KEY, JSON.stringify(body.worker));
      show();
    }, function (err) { say($("sign-in-status"), err.message, "error"); });
  });

  function signOut() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(WORKER_KEY);
    show();
  }
  $("sign-out").addEventListener("click", signOut);

  // --- tabs --------------------------------------------------------------------------------------
  var tabs = document.querySelectorAll("#tabs button");
  function openTab(name) {
    Array.prototype.forEach.call(tabs, function (button) {
      var on = button.dataset.tab === name;
      button.setAttribute("aria-selected", on ? "true" : "false");
      $("tab-" + button.dataset.tab).hidden = !on;
    });
    if (name === "tasks") { loadTasks(); }
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
    if (!signedIn) {
      ["report", "tasks", "mine"].forEach(function (name) { $("tab-" + name).hidden = true; });
      $("who").textContent = "";
      return;
    }
    var worker = JSON.parse(localStorage.getItem(WORKER_KEY) || "{}");
    $("who").textContent = (worker.name || "") + " · " + S.my_cell + " " + (worker.grid_code || "");
    openTab("report");
    api("/api/v1/grid/me").then(function (me) {
      localStorage.setItem(WORKER_KEY, JSON.stringify(me));
      $("who").textContent = me.name + " · " + S.my_cell + " " + me.grid_code;
      $("task-count").hidden = !me.open_tasks;
      $("task-count").textContent = me.open_tasks;
    }, function () {});
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
    // The same key for retries of this one report: the server stores it once.
    api("/api/v1/grid/reports", { method: "POST", headers: { "Idempotency-Key": reportKey }, body: new FormData($("report-form")) })
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

  // --- check tasks --------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function taskItem(task) {
    var item = el("li");
    item.id = "task-" + task.id;
    var meta = el("div", "meta");
    meta.appendChild(el("strong", "", task.case_number));
    meta.appendChild(el("span", "badge" + (task.status === "answered" ? " ok" : ""), task.status === "answered" ? S.answered : task.case_status_text));
    item.appendChild(meta);
    item.appendChild(el("p", "", task.summary));
    if (task.address) { item.appendChild(el("p", "point", task.address)); }
    if (task.result) { item.appendChild(el("p", "result", S.unit_result + ": " + task.result)); }
    if (task.instruction) { item.appendChild(el("p", "result", S.instruction + ": " + task.instruction)); }
    if (task.status !== "open") {
      item.appendChild(el("p", "status ok", (task.resolved ? S.resolved : S.not_resolved) + (task.answer_note ? " · " + task.answer_note : "")));
      return item;
    }
    var form = el("form", "answer");
    var choice = el("div", "choice");
    [["true", S.resolved], ["false", S.not_resolved]].forEach(function (option) {
      var label = el("label");
      var radio = el("input");
      radio.type = "radio"; radio.name = "resolved"; radio.value = option[0]; radio.required = true;
      label.appendChild(radio);
      label.appendChild(document.createTextNode(option[1]));
      choice.appendChild(label);
    });
    form.appendChild(choice);
    form.appendChild(el("label", "", S.note));
    var note = el("textarea"); note.name = "note"; note.maxLength = 2000;
    form.appendChild(note);
    form.appendChild(el("label", "", S.photos));
    var photos = el("input"); photos.type = "file"; photos.name = "photos"; photos.accept = "image/*"; photos.multiple = true; photos.required = true;
    photos.setAttribute("capture", "environment");
    form.appendChild(photos);
    var send = el("button", "wide", S.answer); send.type = "submit";
    form.appendChild(send);
    var status = el("p", "status");
    form.appendChild(status);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send.disabled = true;
      api("/api/v1/grid/tasks/" + task.id + "/answer", { method: "POST", body: new FormData(form) }).then(function (answered) {
        item.replaceWith(taskItem(answered));
        show();
      }, function (err) { say(status, err.message, "error"); send.disabled = false; });
    });
    item.appendChild(form);
    return item;
  }

  function loadTasks() {
    api("/api/v1/grid/tasks").then(function (body) {
      var list = $("tasks");
      list.textContent = "";
      body.tasks.forEach(function (task) { list.appendChild(taskItem(task)); });
      $("no-tasks").hidden = body.tasks.length > 0;
    }, function () {});
  }

  function loadMine() {
    api("/api/v1/grid/reports").then(function (body) {
      var list = $("mine");
      list.textContent = "";
      body.reports.forEach(function (report) {
        var item = el("li");
        var meta = el("div", "meta");
        meta.appendChild(el("strong", "", report.case_number));
        meta.appendChild(el("span", "badge " + report.status, report.status_text));
        item.appendChild(meta);
        item.appendChild(el("p", "", report.summary));
        if (report.merged_into) { item.appendChild(el("p", "point", S.merged_into + " " + report.merged_into)); }
        if (report.result) { item.appendChild(el("p", "result", S.unit_result + ": " + report.result)); }
        list.appendChild(item);
      });
      $("no-reports").hidden = body.reports.length > 0;
    }, function () {});
  }

  show();
})();
