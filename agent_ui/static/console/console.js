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
})();
