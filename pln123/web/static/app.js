// The dashboard page: the overview (#) or a site (#site=<name>), live over Server-Sent
// Events. Every value from the server is inserted as text (textContent), never as markup:
// caller names and numbers are the callers' own words.
"use strict";

const state = { session: null, source: null, site: "", data: null, reasons: [] };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else if (key === "onclick") node.addEventListener("click", value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "∞";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const mm = String(m % 60).padStart(h ? 2 : 1, "0");
  return (h ? h + ":" : "") + mm + ":" + String(s % 60).padStart(2, "0");
}

// A pause reason's name from the admin config (desktop.pause_reasons), else its code.
function reasonName(code) {
  const found = state.reasons.find((r) => r.code === code);
  return found ? (I18N.lang === "en" ? (found.en || found.id) : found.id) : code;
}

function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : Math.round(ratio * 100) + "%";
}

function figure(label, value, cls) {
  return el("div", { class: "figure" }, el("span", { class: "value " + (cls || "") }, value),
    el("span", { class: "label" }, label));
}

async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.body !== undefined) {
    opts.method = opts.method || "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.body);
  }
  if (opts.method === "POST" && state.session && state.session.csrf) {
    opts.headers["X-CSRF-Token"] = state.session.csrf;
  }
  const reply = await fetch(path, opts);
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401) window.location.assign(state.session && state.session.read_only ? "/wallboard" : "/login");
  if (!reply.ok) throw new Error(data.error || ("HTTP " + reply.status));
  return data;
}

// -- overview --------------------------------------------------------------------------

function lentFigures(p) {
  return [figure(t("fig.lent"), p.lent_now + " / " + p.lent_today, "lent"),
    figure(t("fig.borrowed"), p.borrowed_now + " / " + p.borrowed_today, "borrowed")];
}

function tile(site) {
  const down = !site.up;
  const cls = "tile " + (down ? "down" : site.sl_colour);
  const a = site.agents;
  const p = site.pooling;
  const off = p.lending_on ? null : el("span", { class: "badge lending-off" }, t("word.lending_off"));
  const node = el("a", { class: cls, href: "#site=" + encodeURIComponent(site.site), "data-site": site.site },
    el("h2", {}, site.site, el("span", { class: "badges" },
      el("span", { class: "badge" + (down ? " down" : "") }, down ? t("word.down") : t("word.up")), off ? " " : null, off)),
    el("div", { class: "big" },
      figure(t("fig.waiting"), site.waiting),
      figure(t("fig.longest_wait"), duration(site.longest_wait_s))),
    el("div", { class: "small" },
      figure(t("fig.ready"), a.ready), figure(t("fig.on_call"), a.on_call),
      figure(t("fig.wrap_up"), a.wrap_up), figure(t("fig.paused"), a.paused),
      a.phone_down ? figure(t("fig.phone_down"), a.phone_down, "phone-down") : null),
    el("div", { class: "small" },
      figure(t("fig.sl_15"), percent(site.live.service_level), "sl-" + site.sl_colour),
      figure(t("fig.sl_today"), percent(site.today.service_level)),
      figure(t("fig.abandon_15"), percent(site.live.abandon_rate)),
      figure(t("fig.abandon_today"), percent(site.today.abandon_rate))),
    el("div", { class: "small" },
      ...lentFigures(p),
      figure(t("fig.outages"), site.outages),
      figure(t("fig.answered_today"), site.today.answered),
      figure("deflected 15 min / today", site.live.deflected + " / " + site.today.deflected, "deflected")));
  return node;
}

function renderOverview(data) {
  const box = document.getElementById("overview");
  box.replaceChildren(...data.sites.map(tile));
}

// -- a site ------------------------------------------------------------------------------

function renderSite(data) {
  document.getElementById("site-name").textContent = data.site;
  const badge = document.getElementById("site-state");
  badge.textContent = data.up ? t("word.up") : t("word.down");
  badge.className = "badge" + (data.up ? "" : " down");
  document.getElementById("site-summary").replaceChildren(
    figure(t("fig.waiting"), data.waiting), figure(t("fig.longest_wait"), duration(data.longest_wait_s)),
    figure(t("fig.sl_15"), percent(data.live.service_level), "sl-" + data.sl_colour),
    figure(t("col.abandon_15"), percent(data.live.abandon_rate)),
    ...lentFigures(data.pooling),
    figure(t("fig.lending"), data.pooling.lending_on ? t("word.on") : t("word.off"), "lending"));

  document.querySelector("#skills tbody").replaceChildren(...data.skills.map((s) => el("tr", { "data-skill": s.skill },
    el("td", {}, s.skill), el("td", { class: "waiting" }, s.waiting), el("td", {}, duration(s.longest_wait_s)),
    el("td", {}, duration(s.ewt_s)), el("td", {}, s.agents.ready), el("td", {}, s.agents.on_call),
    el("td", {}, s.agents.wrap_up), el("td", {}, s.agents.paused),
    el("td", { class: "sl-" + s.sl_colour }, percent(s.live.service_level)),
    el("td", {}, percent(s.today.service_level)), el("td", {}, percent(s.live.abandon_rate)),
    el("td", {}, s.live.asa_s === null ? "–" : duration(s.live.asa_s)),
    el("td", { class: "reserve" }, reserveText(s.reserve_override, s.reserve_config)))));

  document.querySelector("#calls tbody").replaceChildren(...data.calls.map((c) => el("tr", { "data-call": c.call_id },
    el("td", {}, c.position), el("td", {}, c.skill), el("td", { class: "caller" }, c.caller_number),
    el("td", {}, c.area_code), el("td", {}, c.region), el("td", { class: "wait" }, duration(c.wait_s)),
    el("td", {}, c.priority), el("td", {}, c.callback ? t("word.yes") : t("word.no")))));

  const mayAct = state.session && !state.session.read_only && state.session.may_act_on.includes(data.site);
  document.querySelector("#agents tbody").replaceChildren(...data.agents.map((a) => {
    const buttons = [];
    if (mayAct && a.state !== "logged_out") {
      if (a.state === "paused") buttons.push(el("button", { class: "unpause", type: "button", onclick: () => agentAction(a.id, "unpause") }, t("action.unpause")));
      else buttons.push(el("button", { class: "pause", type: "button", onclick: () => agentAction(a.id, "pause") }, t("action.pause")));
      buttons.push(el("button", { class: "logout", type: "button", onclick: () => agentAction(a.id, "logout") }, t("action.logout")));
    }
    const phone = a.phone && a.phone !== "available" ? " · phone " + a.phone : "";
    const label = t("state." + a.state) + (a.reason ? " (" + reasonName(a.reason) + ")" : "") + (a.pending_logout ? " → logout" : "") + phone;
    return el("tr", { "data-agent": a.id },
      el("td", {}, a.id), el("td", {}, a.name),
      el("td", { class: "state state-" + a.state + (phone ? " phone-down" : "") }, label),
      el("td", {}, a.time_in_state_s === null ? "–" : duration(a.time_in_state_s)),
      el("td", {}, Object.keys(a.skills).join(", ")),
      el("td", { class: "supervisor-only" }, ...buttons));
  }));

  renderLending(data);
  document.getElementById("outages").replaceChildren(...data.outage_notices.map((o) => el("li", { "data-outage": o.id },
    o.area_codes.join(", ") + ": " + o.message + " ",
    mayAct ? el("button", { type: "button", onclick: () => clearOutage(o.id) }, t("action.clear")) : null)));
}

// The reserve a skill's row shows: a supervisor's override, else the config's (auto or a number).
function reserveText(override, configured) {
  return override === null || override === undefined ? String(configured) : override + " (set)";
}

function renderLending(data) {
  const form = document.getElementById("lending-form");
  form.hidden = !(state.session && state.session.may_change_lending);
  if (form.hidden) return;
  const p = data.pooling;
  document.getElementById("lending-state").textContent = p.lending_on ? t("word.on") : t("word.off");
  const button = document.getElementById("lending-switch");
  button.textContent = p.lending_on ? "switch lending off" : "switch lending on";
  button.dataset.on = p.lending_on ? "1" : "0";
  const overrides = Object.entries(p.reserve_overrides)
    .map(([skill, n]) => (skill || "every skill") + " " + n);
  const configured = Object.entries(p.reserve_config).map(([skill, r]) => skill + " " + r);
  document.getElementById("lending-reserves").textContent =
    "pool " + p.pool + " · reserve set: " + (overrides.length ? overrides.join(", ") : "none") +
    " · config: " + configured.join(", ") + " · auto SL part now: " + p.reserve_sl;
  const select = document.getElementById("reserve-skill");
  if (select.options.length === 1) {
    for (const s of data.skills) select.append(el("option", { value: s.skill }, s.skill));
  }
}

function say(text, where) {
  document.getElementById(where || "action-message").textContent = text;
}

async function agentAction(agent, verb) {
  const body = verb === "pause" ? { reason: document.getElementById("pause-reason").value } : {};
  try {
    await api("/api/sites/" + encodeURIComponent(state.site) + "/agents/" + encodeURIComponent(agent) + "/" + verb, { body });
    say(verb + " " + agent + ": sent to the site");
  } catch (e) { say(verb + " " + agent + ": " + e.message); }
}

async function clearOutage(id) {
  try { await api("/api/outages/" + encodeURIComponent(id) + "/clear", { method: "POST", body: {} }); say("outage " + id + " cleared"); }
  catch (e) { say(e.message); }
}

// -- live updates --------------------------------------------------------------------------

function show() {
  const match = /^#site=([^&]+)/.exec(window.location.hash);
  state.site = match ? decodeURIComponent(match[1]) : "";
  document.getElementById("overview").hidden = !!state.site;
  document.getElementById("site").hidden = !state.site;
  document.getElementById("where").textContent = "› " + (state.site || t("dash.national"));
  if (state.source) state.source.close();
  const live = document.getElementById("live");
  live.classList.remove("on");
  const url = "/api/events" + (state.site ? "?site=" + encodeURIComponent(state.site) : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("open", () => live.classList.add("on"));
  source.addEventListener("error", () => live.classList.remove("on"));
  source.addEventListener("view", (event) => {
    const data = JSON.parse(event.data);
    state.data = data;
    if (state.site) renderSite(data); else renderOverview(data);
    document.body.dataset.updated = String(data.generated_at);
  });
}

async function start() {
  await i18nReady;
  state.session = await api("/api/session");
  state.reasons = (await api("/api/desktop/labels").catch(() => ({}))).pause_reasons || [];
  document.body.classList.toggle("wallboard", state.session.read_only);
  document.getElementById("who").textContent = state.session.read_only ? t("dash.wallboard") : state.session.name + " (" + state.session.role + ")";
  document.getElementById("logout-button").addEventListener("click", async () => {
    await api("/api/logout", { method: "POST", body: {} }).catch(() => null);
    window.location.assign("/login");
  });
  document.getElementById("help-button").addEventListener("click", () => {
    const help = document.getElementById("help");
    help.hidden = !help.hidden;
  });
  document.getElementById("lending-switch").addEventListener("click", async (event) => {
    const on = event.currentTarget.dataset.on !== "1";
    try {
      await api("/api/sites/" + encodeURIComponent(state.site) + "/lending", { body: { on } });
      say("lending switched " + (on ? "on" : "off"), "lending-message");
    } catch (e) { say(e.message, "lending-message"); }
  });
  document.getElementById("lending-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = document.getElementById("reserve-value").value.trim();
    // Anything but digits goes as typed, so the server says what is wrong with it.
    const reserve = raw === "" ? null : (/^[0-9]+$/.test(raw) ? Number(raw) : raw);
    const skill = document.getElementById("reserve-skill").value;
    try {
      await api("/api/sites/" + encodeURIComponent(state.site) + "/reserve", { body: { reserve, skill } });
      say("reserve " + (reserve === null ? "back to the config's" : "set to " + reserve) +
        " for " + (skill || "every skill"), "lending-message");
    } catch (e) { say(e.message, "lending-message"); }
  });
  document.getElementById("outage-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const areas = document.getElementById("outage-areas").value.split(",").map((s) => s.trim()).filter(Boolean);
    const body = { area_codes: areas, message: document.getElementById("outage-message").value };
    try { const o = await api("/api/outages", { body }); say("outage " + o.id + " posted"); }
    catch (e) { say(e.message); }
  });
  window.addEventListener("hashchange", show);
  show();
}

start().catch((e) => { document.getElementById("where").textContent = e.message; });
