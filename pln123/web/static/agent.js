// The agent desktop: the agent's own state and the caller on their phone, live over
// Server-Sent Events (/api/agent/events). Every value from the server is put in as text
// (textContent), never as markup: numbers, IDPELs and regions come from callers.
"use strict";

const desk = { session: null, data: null, call: "", labels: { reasons: [], dispositions: [] } };

function node(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") n.className = value;
    else if (key.startsWith("data-")) n.setAttribute(key, value);
    else n[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    n.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return n;
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function setText(id, text) { document.getElementById(id).textContent = text; }

function labelName(label) { return I18N.lang === "en" ? (label.en || label.id) : label.id; }

async function call(path, body) {
  const opts = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.headers["X-CSRF-Token"] = desk.session ? desk.session.csrf : "";
    opts.body = JSON.stringify(body);
  }
  const reply = await fetch(path, opts);
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401) window.location.assign("/login");
  if (!reply.ok) throw new Error(data.error || ("HTTP " + reply.status));
  return data;
}

function fillSelect(select, labels) {
  if (select.options.length === labels.length && select.dataset.filled === I18N.lang) return;
  select.replaceChildren(...labels.map((l) => node("option", { value: l.code }, l.code + " · " + labelName(l))));
  select.dataset.filled = I18N.lang;
}

function render(data) {
  desk.data = data;
  const a = data.agent;
  setText("who", a.name + " (" + a.id + ") · " + a.site);
  const stateNode = document.getElementById("state");
  stateNode.textContent = t("state." + data.state);
  stateNode.className = "state state-" + data.state;
  const reason = data.pause_reasons.find((r) => r.code === data.reason);
  setText("state-reason", data.reason ? "(" + (reason ? labelName(reason) : data.reason) + ")" : "");
  setText("state-time", clock(data.time_in_state_s));
  const after = data.pause_reasons.find((r) => r.code === data.pause_after);
  setText("pending", [data.pending_logout ? t("agent.pending_logout") : "",
    data.pause_after ? t("agent.pausing_after", { reason: after ? labelName(after) : data.pause_after }) : ""].filter(Boolean).join(" · "));
  fillSelect(document.getElementById("pause-reason"), data.pause_reasons);
  fillSelect(document.getElementById("disposition"), data.dispositions);
  document.getElementById("pause-after-button").textContent = data.pause_after ? t("agent.pause_after_cancel") : t("agent.pause_after");
  document.body.dataset.state = data.state;
  renderCall(data);
  document.body.dataset.updated = String(data.generated_at);
}

function renderCall(data) {
  const c = data.call;
  document.getElementById("call").hidden = !c;
  document.getElementById("no-call").hidden = !!c;
  if (!c) { desk.call = ""; return; }
  const card = document.getElementById("call");
  card.dataset.call = c.call_id;
  card.classList.toggle("ringing", data.state === "reserved");
  setText("call-title", data.state === "reserved" ? t("call.ringing") : data.state === "on_call" ? t("call.talking") : t("call.wrapup"));
  setText("call-number", c.caller_number || t("call.withheld"));
  setText("call-area", [c.area_code, c.region].filter(Boolean).join(" · "));
  setText("call-language", c.language ? t("language." + c.language) : "–");
  setText("call-idpel", c.idpel || t("call.no_idpel"));
  setText("call-menu", c.menu_path ? c.menu_path.split(">").join(" › ") : "–");
  setText("call-waited", clock(c.waited_s));
  setText("call-from", c.from_site || "–");
  document.getElementById("call-outages").replaceChildren(...(c.outages.length ? c.outages.map((o) =>
    node("li", { "data-outage": o.id }, o.message)) : [node("li", { class: "muted" }, t("call.no_outages"))]));
  document.getElementById("call-tickets").querySelector("tbody").replaceChildren(...c.tickets.map((k) =>
    node("tr", { "data-ticket": k.number }, node("td", {}, k.number), node("td", {}, k.category),
      node("td", { class: "status" }, t("ticket_status." + k.status)), node("td", {}, k.idpel),
      node("td", {}, new Date(k.created_at * 1000).toLocaleString(I18N.lang)))));
  const w = c.wrapup || {};
  const disposition = data.dispositions.find((d) => d.code === w.disposition);
  setText("wrapup-done", w.disposition ? t("wrapup.done", { disposition: disposition ? labelName(disposition) : w.disposition }) : "");
  if (w.tickets) setText("wrapup-done", document.getElementById("wrapup-done").textContent + " " + t("wrapup.tickets", { tickets: w.tickets }));
  const target = document.getElementById("ticket-target");
  const numbers = [...new Set([...c.tickets.map((k) => k.number), ...(w.tickets ? w.tickets.split(",") : [])])];
  const current = [...target.options].map((o) => o.value).slice(1).join(",");
  if (current !== numbers.join(",")) {
    const chosen = target.value;
    target.replaceChildren(node("option", { value: "" }, t("ticket.new")), ...numbers.map((n) => node("option", { value: n }, n)));
    target.value = numbers.includes(chosen) ? chosen : "";
  }
  if (desk.call !== c.call_id) {   // a new caller: their IDPEL and number pre-filled once
    desk.call = c.call_id;
    document.getElementById("ticket-idpel").value = c.idpel || "";
    document.getElementById("ticket-caller").value = c.caller_number || "";
    document.getElementById("ticket-description").value = "";
    document.getElementById("ticket-address").value = "";
    document.getElementById("note").value = "";
    setText("ticket-message", "");
    setText("wrapup-message", "");
  }
}

function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/agent/events");
  source.addEventListener("open", () => live.classList.add("on"));
  source.addEventListener("error", () => live.classList.remove("on"));
  source.addEventListener("view", (event) => render(JSON.parse(event.data)));
}

function act(button, path, body, where, done) {
  document.getElementById(button).addEventListener("click", async (event) => {
    event.preventDefault();
    try { await call(path, typeof body === "function" ? body() : body); setText(where, t(done)); }
    catch (e) { setText(where, e.message); }
  });
}

async function start() {
  await i18nReady;
  desk.session = await call("/api/session");
  act("ready-button", "/api/agent/ready", {}, "state-message", "agent.sent");
  act("pause-button", "/api/agent/pause", () => ({ reason: document.getElementById("pause-reason").value }), "state-message", "agent.sent");
  act("logout-button", "/api/agent/logout", {}, "state-message", "agent.sent");
  act("pause-after-button", "/api/agent/pause-after", () => ({
    reason: desk.data && desk.data.pause_after ? null : document.getElementById("pause-reason").value }), "state-message", "agent.saved");
  document.getElementById("wrapup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { call: desk.call, disposition: document.getElementById("disposition").value, note: document.getElementById("note").value };
    try { await call("/api/agent/disposition", body); setText("wrapup-message", t("agent.saved")); }
    catch (e) { setText("wrapup-message", e.message); }
  });
  document.getElementById("ticket-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = document.getElementById("ticket-target").value;
    const body = { call: desk.call, description: document.getElementById("ticket-description").value,
      address: document.getElementById("ticket-address").value };
    if (!number) {
      body.category = document.getElementById("ticket-category").value;
      body.idpel = document.getElementById("ticket-idpel").value;
    }
    try {
      const reply = await call("/api/agent/tickets" + (number ? "/" + encodeURIComponent(number) : ""), body);
      setText("ticket-message", t(number ? "ticket.updated" : "ticket.filed", { ticket: reply.ticket }));
    } catch (e) { setText("ticket-message", e.message); }
  });
  document.getElementById("signout-button").addEventListener("click", async () => {
    await call("/api/logout", {}).catch(() => null);
    window.location.assign("/login");
  });
  listen();
}

start().catch((e) => setText("state-message", e.message));
