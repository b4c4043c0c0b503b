// slotwise web page: heat map, proposals, booking, booked sessions, batch plans.
// Plain script, no build step; everything goes through the JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { program: null, match: null, doc: null, heat: null, week: 0, chosen: null,
                job: null, role: null };

function token() { return $("token").value.trim(); }

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: `Bearer ${token()}` } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const detail = data && data.detail ? data.detail : `HTTP ${r.status}`;
    const clashes = data && data.clashes ? ` (${data.clashes.length} clash(es))` : "";
    throw new Error(detail + clashes);
  }
  return data;
}

function say(text) { $("status").textContent = text; }

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(iso, opts) {
  const tz = $("tz").value || undefined;
  return new Date(iso).toLocaleString(undefined, { timeZone: tz, weekday: "short",
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", ...opts });
}

async function loadPrograms() {
  localStorage.setItem("slotwise-token", token());
  const programs = await api("GET", "/api/programs");
  $("program").replaceChildren(...programs.map((p) => el("option", { value: p.id },
    p.name ? `${p.name} (${p.id})` : p.id)));
  await loadProgram();
}

async function loadProgram() {
  state.program = $("program").value;
  if (!state.program) return;
  state.doc = await api("GET", `/api/programs/${state.program}`);
  $("match").replaceChildren(...state.doc.matches.map((x) => el("option", { value: x.id },
    `${x.id} (${x.members.length} members)`)));
  const me = await api("GET", "/api/me");
  $("admin").hidden = me.role !== "admin";
}

async function showHeatmap() {
  state.match = $("match").value;
  if (!state.match) return;
  const q = new URLSearchParams({ duration: $("duration").value });
  if ($("tz").value) q.set("tz", $("tz").value);
  say("Reading availability…");
  state.heat = await api("GET",
    `/api/programs/${state.program}/matches/${state.match}/heatmap?${q}`);
  state.freeBits = state.heat.free.map((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  $("tz").value = state.heat.view.timezone;
  const firstOpen = state.heat.view.dates.findIndex((_, d) =>
    state.heat.view.cells[d].some((c) => c && !c.past));
  state.week = Math.max(0, Math.floor(Math.max(firstOpen, 0) / 7));
  renderWeek();
  for (const id of ["heat", "propose", "booked"]) $(id).hidden = false;
  $("pair-note").hidden = state.heat.members.length !== 2;
  say(`${state.heat.members.length} members; ${state.heat.everyone.length} start times where everyone can come.`);
  await loadBooked();
}

function renderWeek() {
  const v = state.heat.view, n = state.heat.members.length;
  const first = state.week * 7, days = v.dates.slice(first, first + 7);
  $("week-label").textContent = `${days[0]} – ${days[days.length - 1]} (${v.timezone})`;
  $("prev-week").disabled = state.week === 0;
  $("next-week").disabled = first + 7 >= v.dates.length;
  // Only rows (times of day) where someone could come this week, plus a little context.
  const rows = v.times.map((t, ti) => ti).filter((ti) =>
    days.some((_, di) => { const c = v.cells[first + di][ti]; return c && c.count > 0; }));
  const head = el("tr", {}, el("th", { scope: "col" }, "Time"), ...days.map((d, di) => {
    const cells = v.cells[first + di];
    const anyAll = cells.some((c) => c && !c.past && c.count === n);
    const label = new Date(d + "T12:00:00Z").toLocaleDateString(undefined,
      { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
    return el("th", { scope: "col", class: anyAll ? "has-all" : "", "data-date": d }, label);
  }));
  const body = rows.map((ti) => el("tr", {}, el("th", { scope: "row" }, v.times[ti]),
    ...days.map((d, di) => {
      const c = v.cells[first + di][ti];
      if (!c) return el("td", {});
      const all = c.count === n;
      const b = el("button", {
        type: "button", class: `cell${all ? " all" : ""}${c.past ? " past" : ""}`,
        "data-slot": c.slot, "data-count": c.count, "data-date": d, "data-time": v.times[ti],
        "aria-label": `${d} ${v.times[ti]}: ${c.count} of ${n} free${c.past ? ", past" : ""}`,
        onclick: () => pickCell(c.slot, d, v.times[ti]),
        onfocus: () => showWho(c.slot, d, v.times[ti]),
      }, all && n === 2 ? el("span", { class: "dot" }, "●") : c.count ? String(c.count) : "");
      if (!all && !c.past && c.count) b.style.background = `rgba(var(--some), ${0.15 + 0.6 * c.count / n})`;
      return el("td", {}, b);
    })));
  $("grid").replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  if (!rows.length) $("grid").replaceChildren(el("caption", {}, "Nobody can come this week."));
}

// free[j] is member j's bitmap (base64) of the window's start slots: bit i, little-endian
// within each byte, is slot window.first_slot + i.
function isFree(j, slot) {
  const i = slot - state.heat.window.first_slot;
  const bits = state.freeBits[j];
  return i >= 0 && i < state.heat.window.slots && ((bits[i >> 3] >> (i & 7)) & 1) === 1;
}

function who(slot) {
  const names = state.heat.names;
  const free = [], busy = [];
  state.heat.members.forEach((m, j) => (isFree(j, slot) ? free : busy).push(names[m] || m));
  return { free, busy };
}

function showWho(slot, date, time) {
  const w = who(slot);
  $("cell-info").replaceChildren(el("p", {}, el("strong", {}, `${date} ${time}`), ": ",
    `free: ${w.free.join(", ") || "nobody"}`, el("br"),
    el("span", { class: w.busy.length ? "missing" : "" }, `not free: ${w.busy.join(", ") || "nobody"}`)));
}

function slotStart(slot) {
  const t0 = new Date(state.heat.start).getTime();
  return new Date(t0 + slot * state.heat.granularity_minutes * 60000).toISOString();
}

function pickCell(slot, date, time) {
  showWho(slot, date, time);
  if (slot < 0) return;
  chooseStart(slotStart(slot), `(${date} ${time}, picked on the heat map)`);
}

function chooseStart(iso, what) {
  state.chosen = iso;
  $("book").hidden = false;
  $("book-start").textContent = fmt(iso);
  $("book-what").textContent = what;
  $("book-start").dataset.iso = iso;
}

async function propose(ev) {
  ev.preventDefault();
  say("Scoring every candidate series…");
  const body = { limit: 5, duration_minutes: +$("duration").value,
                 frequency: $("frequency").value, sessions: +$("sessions").value };
  if (body.frequency === "once") body.sessions = 1;
  const res = await api("POST", `/api/programs/${state.program}/matches/${state.match}/proposals`, body);
  say(`${res.candidates} candidate series; showing the best ${res.proposals.length}.`);
  $("proposals").replaceChildren(...(res.proposals.length ? res.proposals.map((p, i) => {
    const occ = el("ul", { class: "occ" }, ...p.occurrences.map((o) => el("li", {},
      `${fmt(o.start)}: ${o.attending.length} can come`,
      o.missing.length ? el("span", { class: "missing" }, ` — missing ${o.missing.join(", ")}`) : "",
      o.alternative ? ` (alternative that week: ${fmt(o.alternative)})` : "")));
    return el("li", { "data-first": p.first_start },
      el("strong", {}, fmt(p.first_start)), ` ${p.frequency}, ${p.occurrences.length} sessions: `,
      `${p.score.held} held, attendance ${p.score.attendance}. `,
      el("button", { type: "button", class: "pick", onclick: () => {
        $("frequency").dataset.picked = p.frequency;
        chooseStart(p.first_start, `(proposal ${i + 1}, ${p.frequency} × ${p.occurrences.length})`);
      } }, "Book this"),
      el("details", {}, el("summary", {}, "occurrences"), occ));
  }) : [el("li", {}, res.reason || "No series fits.")]));
}

async function book(ev) {
  ev.preventDefault();
  const once = document.querySelector("input[name=scope]:checked").value === "once";
  const body = { first_start: $("book-start").dataset.iso,
                 duration_minutes: +$("duration").value,
                 frequency: once ? "once" : $("frequency").value,
                 sessions: once ? 1 : +$("sessions").value };
  if ($("frequency").value === "once") body.sessions = 1;
  const conf = {};
  if ($("video").value) conf.video_url = $("video").value;
  if ($("location").value) conf.location = $("location").value;
  if (Object.keys(conf).length) body.conferencing = conf;
  if ($("agenda").value) body.agenda = $("agenda").value;
  try {
    const s = await api("POST", `/api/programs/${state.program}/matches/${state.match}/series`, body);
    say(`Booked ${s.sessions.length} session(s); invites sent to ${s.members.length} members.`);
    $("book").hidden = true;
    await loadBooked();
    await showHeatmap();
  } catch (e) { say(`Not booked: ${e.message}`); }
}

async function loadBooked() {
  const list = await api("GET", `/api/programs/${state.program}/matches/${state.match}/series`);
  $("series-list").replaceChildren(...(list.length ? list.map((s) => el("article", { class: "series" },
    el("h3", {}, `${fmt(s.first_start)} · ${s.frequency} · ${s.status} · ${s.progress.completed}/${s.progress.planned} held`),
    s.status !== "cancelled" ? el("button", { type: "button", onclick: async () => {
      await api("DELETE", `/api/programs/${state.program}/series/${s.id}`); await loadBooked(); } },
      "Cancel series") : "",
    el("ul", {}, ...s.sessions.map((o) => el("li", { "data-session": o.id },
      `${fmt(o.start)} — ${o.status} `,
      o.status === "scheduled" ? el("button", { type: "button", onclick: async () => {
        await api("POST", `/api/programs/${state.program}/sessions/${o.id}/complete`); await loadBooked(); } },
        "Mark complete") : "",
      o.status === "scheduled" ? el("button", { type: "button", onclick: async () => {
        await api("PATCH", `/api/programs/${state.program}/sessions/${o.id}`, { status: "cancelled" }); await loadBooked(); } },
        "Cancel") : "")))))
    : [el("p", {}, "Nothing booked yet.")]));
}

async function startPlan(ev) {
  ev.preventDefault();
  try {
    const job = await api("POST", `/api/programs/${state.program}/plans`, { time_limit: +$("time-limit").value });
    state.job = job.job;
    $("plan-progress").hidden = false;
    pollPlan();
  } catch (e) { $("plan-message").textContent = e.message; }
}

async function pollPlan() {
  const j = await api("GET", `/api/jobs/${state.job}`);
  $("plan-progress").value = j.progress;
  $("plan-message").textContent = `${j.status}: ${j.message || ""}`;
  if (j.status === "queued" || j.status === "running") { setTimeout(pollPlan, 500); return; }
  if (j.status === "failed") { $("plan-message").textContent = `failed: ${j.error}`; return; }
  const p = j.plan;
  const rows = [
    ...p.series.map((s) => el("tr", {}, el("td", {}, s.match), el("td", {}, fmt(s.first_start)),
      el("td", {}, s.frequency), el("td", {}, `${s.score.held}/${s.occurrences.length}`),
      el("td", {}, s.score.attendance), el("td", {}, ""))),
    ...p.unscheduled.map((u) => el("tr", {}, el("td", {}, u.match), el("td", {}, "—"),
      el("td", {}, ""), el("td", {}, "0"), el("td", {}, "0"), el("td", {}, u.reason)))];
  $("plan-table").replaceChildren(el("thead", {}, el("tr", {}, ...["Match", "First session",
    "Repeats", "Held", "Attendance", "Unscheduled because"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
  $("plan-message").textContent = `${p.status}: ${p.objective.held} sessions held (bound ${p.bound.held}), ${p.unscheduled.length} unscheduled`;
  $("apply-plan").hidden = !p.series.length;
}

async function applyPlan() {
  try {
    const r = await api("POST", `/api/programs/${state.program}/plans/${state.job}/apply`);
    $("plan-message").textContent = `Applied: ${r.booked} series booked, invites sent.`;
    $("apply-plan").hidden = true;
  } catch (e) { $("plan-message").textContent = `Not applied: ${e.message}`; }
}

function init() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  $("token").value = fromHash || localStorage.getItem("slotwise-token") || "";
  $("tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  $("zones").replaceChildren(...(Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [])
    .map((z) => el("option", { value: z })));
  const guard = (fn) => async (ev) => { try { await fn(ev); } catch (e) { say(e.message); } };
  $("token").addEventListener("change", guard(loadPrograms));
  $("program").addEventListener("change", guard(loadProgram));
  $("setup-form").addEventListener("submit", guard(async (ev) => {
    ev.preventDefault(); if (!state.program) await loadPrograms(); await showHeatmap(); }));
  $("prev-week").addEventListener("click", () => { state.week--; renderWeek(); });
  $("next-week").addEventListener("click", () => { state.week++; renderWeek(); });
  $("propose-form").addEventListener("submit", guard(propose));
  $("book-form").addEventListener("submit", guard(book));
  $("plan-form").addEventListener("submit", guard(startPlan));
  $("apply-plan").addEventListener("click", guard(applyPlan));
  if (token()) guard(loadPrograms)();
}

init();
