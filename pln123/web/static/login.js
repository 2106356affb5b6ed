// Log in with JSON (POST /api/login); the session cookie is HttpOnly, set by the server.
"use strict";
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const body = JSON.stringify({
    name: document.getElementById("name").value,
    password: document.getElementById("password").value,
  });
  try {
    const reply = await fetch("/api/login", {
      method: "POST", headers: {"Content-Type": "application/json"}, body,
      credentials: "same-origin",
    });
    if (reply.ok) {
      window.location.assign("/");
      return;
    }
    const data = await reply.json().catch(() => ({}));
    error.textContent = data.error || ("HTTP " + reply.status);
  } catch (e) {
    error.textContent = String(e);
  }
});
