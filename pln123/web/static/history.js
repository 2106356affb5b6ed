// The call history page: a day or a range, per 15 minutes as an SVG chart drawn here (no
// library, no CDN), the CSV downloads and the calls with their recordings. Every value
// from the server goes in with textContent or as an SVG attribute, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function query() {
  const params = new URLSearchParams();
  params.set("from", $("from").value);
  if ($("to").value) {   // the last day shown, included: up to the next midnight
    const next = new Date(`${$("to").value}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    params.set("to", next.toISOString().slice(0, 10));
  }
  if ($("site").value) params.set("site", $("site").value);
  return params.toString();
}

async function getJson(path) {
  const reply = await fetch(path, {credentials: "same-origin"});
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || reply.statusText);
  return body;
}

function svg(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function drawChart(intervals) {
  const box = $("chart");
  box.replaceChildren();
  const width = 960, height = 220, bottom = 20;
  const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, role: "img",
                            "aria-label": "calls per 15 minutes", id: "interval-chart"});
  const most = Math.max(1, ...intervals.map((i) => i.offered));
  const step = width / Math.max(intervals.length, 1);
  intervals.forEach((interval, index) => {
    const x = index * step;
    const scale = (n) => (n / most) * (height - bottom - 10);
    const bar = (kind, value, offset) => {
      const h = scale(value);
      const rect = svg("rect", {class: kind, x: x + offset * step / 3, width: step / 3 - 1,
                                y: height - bottom - h, height: h});
      const title = svg("title", {});
      title.textContent = `${interval.start} ${kind}: ${value}`;
      rect.appendChild(title);
      chart.appendChild(rect);
    };
    bar("offered", interval.offered, 0);
    bar("answered", interval.answered, 1);
    bar("abandoned", interval.abandoned, 2);
    if (index % 4 === 0) {
      const label = svg("text", {class: "axis", x: x, y: height - 5});
      label.textContent = interval.start.slice(11, 16);
      chart.appendChild(label);
    }
  });
  box.appendChild(chart);
}

function percent(value) {
  return value === null || value === undefined ? "-" : `${(value * 100).toFixed(1)}%`;
}

function showCalls(calls) {
  const body = $("calls").querySelector("tbody");
  body.replaceChildren();
  for (const call of calls) {
    const row = document.createElement("tr");
    row.dataset.call = call.call_id;
    for (const key of ["entered_at", "site", "skill", "caller_number", "outcome", "wait_s",
                       "talk_s", "agent", "ticket"]) {
      const cell = document.createElement("td");
      const value = call[key];
      cell.textContent = value === null || value === undefined ? "" :
        (typeof value === "number" ? value.toFixed(1) : String(value));
      row.appendChild(cell);
    }
    const cell = document.createElement("td");
    if (call.may_play) {
      const source = `/history/recordings/${encodeURIComponent(call.call_id)}`;
      const play = document.createElement("button");
      play.type = "button";
      play.className = "play";
      play.textContent = "play";
      play.addEventListener("click", () => {
        const player = $("player");
        player.hidden = false;
        player.src = source;
        player.play().catch(() => {});
      });
      const download = document.createElement("a");
      download.href = `${source}?download=1`;
      download.className = "download";
      download.textContent = "download";
      cell.append(play, " ", download);
    } else if (call.recorded) {
      cell.textContent = "recorded";
    }
    row.appendChild(cell);
    body.appendChild(row);
  }
}

async function show(event) {
  if (event) event.preventDefault();
  $("error").textContent = "";
  const params = query();
  for (const link of document.querySelectorAll(".downloads a")) {
    link.href = `/history/${link.dataset.kind}.csv?${params}`;
  }
  try {
    const [interval, calls] = await Promise.all([
      getJson(`/history/interval.json?${params}`), getJson(`/history/calls.json?${params}`)]);
    drawChart(interval.intervals);
    const total = interval.total || {};
    $("totals").textContent = `offered ${total.offered || 0}, answered ${total.answered || 0}, ` +
      `abandoned ${total.abandoned || 0}, SL ${percent(total.service_level)}`;
    showCalls(calls.calls);
    document.body.dataset.loaded = "1";
  } catch (error) {
    $("error").textContent = error.message;
  }
}

async function start() {
  const meta = await getJson("/history/meta.json");
  for (const site of meta.sites) {
    const option = document.createElement("option");
    option.value = site;
    option.textContent = site;
    $("site").appendChild(option);
  }
  const params = new URLSearchParams(location.search);
  const today = new Date(Date.now() + meta.utc_offset_s * 1000).toISOString().slice(0, 10);
  $("from").value = params.get("from") || today;
  $("to").value = params.get("to") || "";
  $("site").value = params.get("site") || "";
  $("range").addEventListener("submit", show);
  await show();
}

start().catch((error) => { $("error").textContent = error.message; });
