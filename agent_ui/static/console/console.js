// Console behaviour: "next case" (button or the N key), presence, and a heartbeat so that an
// agent whose browser is gone is set offline by the server and their case goes back to the queue.
(function () {
  "use strict";
  const script = document.getElementById("console-script");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const post = (url, body) => fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  const showError = async (response) => {
    const box = document.getElementById("action-error");
    if (!box) { return; }
    box.textContent = (await response.json()).error;
    box.hidden = false;
  };

  // One live event stream per console page (queue, wallboard, incoming calls): each holds a server thread.
  const liveEvents = script && script.dataset.events && window.EventSource ? new EventSource(script.dataset.events) : null;
  if (liveEvents) {
    // Whether the stream is connected (tests wait for "open" instead of sleeping).
    liveEvents.addEventListener("open", () => { document.body.dataset.live = "open"; });
    liveEvents.addEventListener("error", () => { document.body.dataset.live = "closed"; });
  }

  // The case page: correct, dispatch, or mark invalid; each lands in the case's history.
  const actions = document.getElementById("actions");
  if (actions) {
    const act = async (url, body, then) => {
      const response = await post(url, body);
      if (response.ok) { then(); } else { await showError(response); }
    };
    const toQueue = () => { window.location = actions.dataset.queue; };
    document.getElementById("save").addEventListener("click", () => {
      const body = { priority: Number(document.getElementById("priority").value) };
      const category = document.getElementById("category").value;
      if (category) { body.category = category; }
      act(actions.dataset.update, body, () => window.location.reload());
    });
    // Routing proposes a unit; choosing another asks for the reason, which goes into the history.
    const department = document.getElementById("department");
    const override = document.getElementById("override-reason");
    const showOverride = () => {
      override.hidden = !department.dataset.proposed || department.value === department.dataset.proposed;
    };
    department.addEventListener("change", showOverride);
    showOverride();
    document.getElementById("dispatch").addEventListener("click", () =>
      act(actions.dataset.dispatch, { department: department.value, override_reason: override.value }, toQueue));
    // Address search in the gazetteer: pick a match to set the address and the point (and so the cell).
    const addressBox = document.getElementById("address-search");
    const matches = document.getElementById("address-matches");
    let searchTimer = null;
    addressBox.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(async () => {
        if (!addressBox.value.trim()) { matches.replaceChildren(); return; }
        const response = await fetch(addressBox.dataset.url + "?q=" + encodeURIComponent(addressBox.value),
          { credentials: "same-origin" });
        if (!response.ok) { return; }
        const found = await response.json();
        // The best match's flags (ambiguous, near a cell boundary...) say when to confirm with the caller.
        const flagged = found.best && found.best.needs_confirmation ? found.best.reason_texts.join("; ") : "";
        matches.replaceChildren(...found.matches.map((match) => {
          const li = document.createElement("li");
          const pick = document.createElement("button");
          pick.type = "button";
          pick.className = "link match";
          pick.textContent = match.text + " · " + Math.round(match.confidence * 100) + "%" +
            (match.needs_confirmation || flagged ? " ⚠ " + (flagged || match.reason_texts.join("; ")) : "");
          pick.addEventListener("click", () => act(actions.dataset.update,
            { address: match.text, lat: match.lat, lon: match.lon }, () => window.location.reload()));
          li.append(pick);
          return li;
        }));
      }, 200);
    });
    document.getElementById("invalidate").addEventListener("click", () =>
      act(actions.dataset.invalidate, { reason: document.getElementById("invalid-reason").value }, toQueue));
    document.getElementById("ask").addEventListener("click", () => {
      const question = document.getElementById("question");
      act(question.dataset.url, { question: question.value }, () => window.location.reload());
    });
    const candidates = document.getElementById("candidates");
    for (const button of document.querySelectorAll("#candidates button.merge")) {
      button.addEventListener("click", () => act(candidates.dataset.merge, { into: button.dataset.into }, toQueue));
    }
    const keys = { a: "question", c: "category", d: "department", i: "invalid-reason", m: "candidates" };
    document.addEventListener("keydown", (event) => {
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
      const target = keys[event.key.toLowerCase()];
      if (!typing && target && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        const element = document.getElementById(target);
        (element.querySelector("button") || element).focus();
      }
    });
  }
  // The case's place on a vector map of its grid cells; the agent holding it may click a new point.
  const mapBox = document.getElementById("case-map");
  if (mapBox) {
    window.addEventListener("load", () => {
      if (!window.GridlineMap) { return; }
      const point = mapBox.dataset.lon ? [Number(mapBox.dataset.lon), Number(mapBox.dataset.lat)] : null;
      window.GridlineMap.mount(mapBox, {
        center: point || [116.63, 40.32],
        point: point,
        cellCode: mapBox.dataset.cell,
        pickable: mapBox.dataset.pickable === "true",
        onPick: async (lon, lat) => {
          const response = await post(mapBox.dataset.update, { lat: lat, lon: lon });
          if (response.ok) { window.location.reload(); } else { await showError(response); }
        },
      });
    });
  }

  // The wallboard re-reads its figures on every queue or presence event.
  const wall = document.getElementById("wallboard");
  if (wall && liveEvents) {
    const refreshWall = async () => {
      const response = await fetch(wall.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const figures = await response.json();
      document.getElementById("w-waiting").textContent = figures.waiting;
      document.getElementById("w-longest").textContent = figures.longest_wait_minutes;
      document.getElementById("w-in-hand").textContent = figures.in_hand;
      document.getElementById("w-overdue").textContent = figures.overdue;
      const channels = document.getElementById("w-channels");
      const channelLabels = JSON.parse(channels.dataset.labels);
      channels.replaceChildren(...Object.entries(figures.waiting_by_channel).map(([channel, count]) => {
        const li = document.createElement("li");
        li.dataset.channel = channel;
        li.textContent = (channelLabels[channel] || channel) + ": " + count;
        return li;
      }));
      const attention = document.getElementById("w-attention");
      const labels = JSON.parse(attention.dataset.labels);
      attention.replaceChildren(...figures.attention.map((row) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = "/console/cases/" + encodeURIComponent(row.number);
        link.textContent = row.number;
        li.append(link, " · " + (labels[row.reason] || row.reason) + " · " + row.summary);
        return li;
      }));
      for (const li of document.querySelectorAll("#w-agents li")) {
        const names = figures.agents[li.dataset.presence] || [];
        li.textContent = li.textContent.split(":")[0] + ": " + (names.join("、") || "—");
      }
    };
    liveEvents.addEventListener("queue", refreshWall);
  }

  // Closed-loop forms (department side and the center's follow-up): each posts its fields as
  // JSON (or, with photos, as multipart) plus any fixed values in data-extra, then reloads.
  for (const form of document.querySelectorAll("form.loop-action")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let response;
      if (form.enctype === "multipart/form-data") {
        const data = new FormData(form);
        response = await fetch(form.dataset.url, {
          method: "POST", body: data, headers: { "X-CSRFToken": token }, credentials: "same-origin",
        });
      } else {
        const body = Object.assign(Object.fromEntries(new FormData(form)), JSON.parse(form.dataset.extra || "{}"));
        response = await post(form.dataset.url, body);
      }
      if (response.ok) {
        if (form.dataset.then) { window.location = form.dataset.then; } else { window.location.reload(); }
      } else { await showError(response); }
    });
  }

  // Deadline countdowns: "2h 05m left" / "overdue 1h 10m", refreshed every half minute.
  const countdowns = () => {
    for (const el of document.querySelectorAll("time.countdown[data-due]")) {
      if (!el.dataset.due) { continue; }
      const minutes = Math.round((Date.parse(el.dataset.due) - Date.now()) / 60000);
      const abs = Math.abs(minutes);
      const text = (abs >= 1440 ? Math.floor(abs / 1440) + "d " : "") + Math.floor((abs % 1440) / 60) + "h " +
        String(abs % 60).padStart(2, "0") + "m";
      el.textContent = minutes < 0 ? script.dataset.overdue + " " + text : text + " " + script.dataset.left;
      el.classList.toggle("late", minutes < 0);
    }
  };
  countdowns();
  setInterval(countdowns, 30000);

  const reveal = document.getElementById("reveal-phone");
  if (reveal) {
    reveal.addEventListener("click", async () => {
      const response = await post(reveal.dataset.url);
      if (response.ok) { document.getElementById("reporter").textContent = (await response.json()).phone; }
    });
  }

  const nextCase = async () => {
    const response = await post(script.dataset.next);
    if (response.status === 204) {
      const notice = document.getElementById("notice");
      if (notice) { notice.textContent = script.dataset.noneLeft; notice.hidden = false; }
      return;
    }
    if (response.ok) { window.location = (await response.json()).url; }
  };
  const button = document.getElementById("next-case");
  if (button) { button.addEventListener("click", nextCase); }
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (!typing && !event.ctrlKey && !event.metaKey && !event.altKey && event.key.toLowerCase() === "n") {
      event.preventDefault();
      nextCase();
    }
  });
  const presence = document.getElementById("presence");
  if (presence) {
    presence.addEventListener("change", () => post(presence.dataset.url, { presence: presence.value }));
  }
  if (script.dataset.heartbeat) { setInterval(() => post(script.dataset.heartbeat), 20000); }

  // The live queue: every change published through Redis arrives as a server-sent event, and the
  // table is re-read (one small JSON request), so it is never more than a moment behind.
  const table = document.getElementById("queue");
  if (table && liveEvents) {
    const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
    const refresh = async () => {
      const response = await fetch(table.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const cases = (await response.json()).cases;
      // Cases a leader assigned or flagged (领导指派) carry a mark (the leader channel's endpoint, if any).
      const markResponse = await fetch(table.dataset.marks, { credentials: "same-origin" });
      const leaderMarks = markResponse.ok ? await markResponse.json() : { marks: {}, label: "" };
      const body = table.tBodies[0];
      body.replaceChildren(...cases.map((row) => {
        const tr = document.createElement("tr");
        tr.className = "p" + row.priority;
        const due = document.createElement("time");
        due.className = "countdown";
        due.dataset.due = row.due;
        const dueCell = document.createElement("td");
        dueCell.append(due);
        const summary = cell(row.summary);
        if (leaderMarks.marks[row.number]) {
          const mark = document.createElement("span");
          mark.className = "badge leader";
          mark.textContent = leaderMarks.label + " ";
          summary.prepend(mark);
        }
        if (row.returns) {
          const badge = document.createElement("span");
          badge.className = "badge alert";
          badge.textContent = table.dataset.returned + "×" + row.returns + " ";
          summary.prepend(badge);
        }
        tr.append(cell(row.number), cell(row.channel), cell(row.priority), cell(row.waiting_minutes), dueCell, summary);
        return tr;
      }));
      countdowns();
      document.getElementById("queue-count").textContent = cases.length;
      document.getElementById("queue-empty").hidden = cases.length > 0;
    };
    liveEvents.addEventListener("queue", refresh);
    liveEvents.addEventListener("open", refresh);  // catch up on anything missed while disconnected
  }
  // Call-back tasks (abandoned calls, callers who asked to be called back), in their queue order.
  const callbacks = document.getElementById("callbacks");
  if (callbacks) {
    const reasons = JSON.parse(callbacks.dataset.reasons);
    const doneLabel = document.getElementById("callback-done-label").innerHTML;
    const refreshCallbacks = async () => {
      const response = await fetch(callbacks.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const tasks = (await response.json()).callbacks;
      document.getElementById("callback-list").replaceChildren(...tasks.map((task) => {
        const li = document.createElement("li");
        const done = document.createElement("button");
        done.type = "button";
        done.className = "small callback-done";
        done.textContent = doneLabel;
        done.addEventListener("click", async () => {
          const answer = await post(callbacks.dataset.done.replace("/0/", "/" + task.id + "/"), {});
          if (answer.ok) { refreshCallbacks(); } else { await showError(answer); }
        });
        li.append(task.caller + " · " + (reasons[task.reason] || task.reason) + " · " +
          new Date(task.queued_at).toLocaleTimeString() + " ", done);
        return li;
      }));
      document.getElementById("callback-count").textContent = tasks.length;
      document.getElementById("callback-empty").hidden = tasks.length > 0;
    };
    refreshCallbacks();
    if (liveEvents) { liveEvents.addEventListener("queue", refreshCallbacks); }
  }
  // The wallboard's hotline figures.
  const hotline = document.getElementById("w-hotline");
  if (hotline) {
    const refreshHotline = async () => {
      const response = await fetch(hotline.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const f = await response.json();
      const set = (id, value) => { document.getElementById(id).textContent = value; };
      set("h-waiting", f.waiting); set("h-longest", f.longest_wait_seconds); set("h-calls", f.calls);
      set("h-answered", f.answered); set("h-abandoned", f.abandoned); set("h-callbacks", f.open_callbacks);
      set("h-available", f.agents_available);
    };
    refreshHotline();
    if (liveEvents) { liveEvents.addEventListener("queue", refreshHotline); }
  }

  // Incoming call: when the hotline connects a caller to this agent, the stream says so and the
  // console shows the caller (masked), their earlier cases and a draft report to fill in.
  const popup = document.getElementById("call-popup");
  if (popup) {
    let callId = null;
    let dismissed = null;
    const showCall = async () => {
      const response = await fetch(popup.dataset.current, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const current = (await response.json()).current;
      if (!current || current.call.id === dismissed) { return; }
      callId = current.call.id;
      document.getElementById("call-caller").textContent = current.call.caller +
        (current.call.wait_seconds != null ? " · " + popup.dataset.waited + " " + current.call.wait_seconds + "s" : "");
      const history = document.getElementById("call-history");
      history.replaceChildren(...current.history.map((item) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = "/console/cases/" + encodeURIComponent(item.number);
        link.textContent = item.number;
        li.append(link, " · " + (item.status_label || item.status) + " · " + item.summary);
        return li;
      }));
      const join = document.getElementById("call-join");
      join.checked = Boolean(current.open_case);
      join.disabled = !current.open_case;
      document.getElementById("call-open").textContent = current.open_case || "—";
      popup.hidden = false;
      document.getElementById("call-text").focus();
    };
    if (liveEvents) {
      liveEvents.addEventListener("queue", (event) => {
        const data = JSON.parse(event.data);
        if (data.event === "call" && String(data.user_id) === popup.dataset.me) { showCall(); }
      });
      // A call connected while the stream was not (yet) open is shown once it is.
      liveEvents.addEventListener("open", showCall);
    }
    showCall();  // a call already connected when this page opened
    document.getElementById("call-create").addEventListener("click", async () => {
      const body = { text: document.getElementById("call-text").value, join_open_case: document.getElementById("call-join").checked };
      const response = await post(popup.dataset.caseUrl.replace("0", String(callId)), body);
      if (response.ok) { window.location = (await response.json()).url; } else { await showError(response); }
    });
    document.getElementById("call-dismiss").addEventListener("click", () => { popup.hidden = true; dismissed = callId; });
  }
})();
