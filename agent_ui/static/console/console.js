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
    document.getElementById("dispatch").addEventListener("click", () =>
      act(actions.dataset.dispatch, { department: document.getElementById("department").value }, toQueue));
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
  // The wallboard re-reads its figures on every queue or presence event.
  const wall = document.getElementById("wallboard");
  if (wall && window.EventSource) {
    const refreshWall = async () => {
      const response = await fetch(wall.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const figures = await response.json();
      document.getElementById("w-waiting").textContent = figures.waiting;
      document.getElementById("w-longest").textContent = figures.longest_wait_minutes;
      document.getElementById("w-in-hand").textContent = figures.in_hand;
      document.getElementById("w-overdue").textContent = figures.overdue;
      const channels = document.getElementById("w-channels");
      channels.replaceChildren(...Object.entries(figures.waiting_by_channel).map(([channel, count]) => {
        const li = document.createElement("li"); li.textContent = channel + ": " + count; return li;
      }));
      for (const li of document.querySelectorAll("#w-agents li")) {
        const names = figures.agents[li.dataset.presence] || [];
        li.textContent = li.textContent.split(":")[0] + ": " + (names.join("、") || "—");
      }
    };
    const wallEvents = new EventSource(wall.dataset.events);
    wallEvents.addEventListener("queue", refreshWall);
  }

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
  setInterval(() => post(script.dataset.heartbeat), 20000);

  // The live queue: every change published through Redis arrives as a server-sent event, and the
  // table is re-read (one small JSON request), so it is never more than a moment behind.
  const table = document.getElementById("queue");
  if (table && window.EventSource) {
    const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
    const refresh = async () => {
      const response = await fetch(table.dataset.source, { credentials: "same-origin" });
      if (!response.ok) { return; }
      const cases = (await response.json()).cases;
      const body = table.tBodies[0];
      body.replaceChildren(...cases.map((row) => {
        const tr = document.createElement("tr");
        tr.className = "p" + row.priority;
        tr.append(cell(row.number), cell(row.channel), cell(row.priority), cell(row.waiting_minutes), cell(row.summary));
        return tr;
      }));
      document.getElementById("queue-count").textContent = cases.length;
      document.getElementById("queue-empty").hidden = cases.length > 0;
    };
    const events = new EventSource(table.dataset.events);
    events.addEventListener("queue", refresh);
    events.addEventListener("open", refresh);  // catch up on anything missed while disconnected
  }
})();
