// @ts-check
// The booking wizard, Cal.com's booker and GOV.UK's "check your answers" as yardsticks:
// what to book → a date and a time (recommended series first) → where and agenda → review
// every date in everyone's own time → confirm → done, with undo for a short while.
// Nothing is sent before "Book and send invites".

import { api, ApiError, programPath } from "./api.js";
import { ctx } from "./main.js";
import {
  el, dateTime, longDate, time, day, ymdIn, viewerZone, duration, FREQUENCY, names, matchTitle,
  notice, errorSummary, focusHeading, zoneCity,
} from "./ui.js";
import { openCells, renderHeatmap } from "./heatmap.js";

const STEPS = ["What", "Date and time", "Details", "Review"];
const DURATIONS = [30, 45, 60];

/** @param {HTMLElement} root @param {string} xid */
export async function wizard(root, xid) {
  const pid = /** @type {string} */ (ctx.program);
  const home = await api("GET", `${programPath(pid)}/home?match=${encodeURIComponent(xid)}`);
  const match = home.matches.find((/** @type {any} */ x) => x.id === xid);
  if (!match) throw new Error("This match is not in your program, or you may not see it.");
  if (!match.can_book) throw new Error("Sessions of this match are booked by its organizer; you may not book them.");
  const conf = match.conferencing || {};
  const st = {
    step: 0,
    kind: match.sessions > 1 ? "series" : "once",
    duration: match.duration_minutes,
    frequency: match.frequency === "once" ? "weekly" : match.frequency,
    sessions: match.sessions > 1 ? match.sessions : 4,
    /** @type {string|null} */ month: null,
    /** @type {string|null} */ date: null,
    /** @type {string|null} */ start: null,
    allTimes: false,
    video_url: conf.video_url || "",
    location: conf.location || "",
    agenda: match.agenda || "",
    /** @type {any} */ heat: null,
    /** @type {any} */ recommended: null,
    zone: viewerZone(),
    now: home.program.now,
  };
  const base = `${programPath(pid)}/matches/${encodeURIComponent(xid)}`;
  const title = matchTitle(match, home.member);
  const messages = el("div", { class: "messages" });
  const body = el("div", { class: "wizard-body" });
  const progress = el("ol", { class: "steps", "aria-label": "Steps" });
  root.replaceChildren(
    el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, `Book sessions: ${title}`), progress, messages, body);

  const request = () => {
    /** @type {Record<string, any>} */
    const b = {
      first_start: st.start, duration_minutes: st.duration,
      frequency: st.kind === "once" ? "once" : st.frequency,
      sessions: st.kind === "once" ? 1 : st.sessions,
    };
    /** @type {Record<string, string>} */
    const c = {};
    if (st.video_url.trim()) c.video_url = st.video_url.trim();
    if (st.location.trim()) c.location = st.location.trim();
    b.conferencing = c;
    if (st.agenda.trim()) b.agenda = st.agenda.trim();
    return b;
  };

  /** @param {number} step @param {string} [focus] the id to focus once drawn (else the heading) */
  const show = async (step, focus) => {
    st.step = step;
    messages.replaceChildren();
    progress.replaceChildren(...STEPS.map((s, i) => el("li", {
      class: i === step ? "current" : i < step ? "done" : "", "aria-current": i === step ? "step" : null,
    }, `${i + 1}. ${s}`)));
    try {
      await [what, when, details, review][step]();
    } catch (e) {
      failed(e);
    }
    const target = focus ? document.getElementById(focus) : null;
    if (target) { target.tabIndex = -1; target.focus(); } else focusHeading(body);
  };
  // A new zone re-draws this step in it; every choice stays (instants do not move).
  ctx.onZone = () => { st.zone = viewerZone(); st.heat = null; void show(st.step); };

  /** @param {unknown} e @param {Record<string, string>} [ids] */
  const failed = (e, ids = {}) => {
    if (e instanceof ApiError && e.errors.length) errorSummary(messages, e.errors, ids);
    else notice(messages, "error", "That did not work", e instanceof Error ? e.message : String(e));
  };

  // Step 1: one session or a series; length; how often and how many.
  const what = async () => {
    /** @param {string} name @param {string} legend @param {[string, string][]} options @param {string} value */
    const radios = (name, legend, options, value) => el("fieldset", { id: `${name}-set` },
      el("legend", {}, legend),
      ...options.map(([v, label]) => el("label", { class: "radio" },
        el("input", { type: "radio", name, value: v, checked: v === value }), label)));
    const lengths = [...new Set([...DURATIONS, match.duration_minutes])].sort((a, b) => a - b);
    const form = el("form", { class: "card", novalidate: true, onsubmit: (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const f = new FormData(/** @type {HTMLFormElement} */ (ev.target));
      st.kind = String(f.get("kind"));
      st.duration = Number(f.get("duration"));
      st.frequency = String(f.get("frequency") || st.frequency);
      const n = Number(f.get("sessions"));
      if (st.kind === "series" && !(Number.isInteger(n) && n >= 2 && n <= 52)) {
        errorSummary(messages, [{ field: "sessions", message: "Enter a number of sessions from 2 to 52" }], { sessions: "sessions" });
        return;
      }
      st.sessions = n;
      st.heat = null; st.recommended = null; st.start = null; st.date = null;
      show(1);
    } },
    el("h2", {}, "What would you like to book?"),
    radios("kind", "Session type", [["once", "One session"], ["series", "A recurring series"]], st.kind),
    radios("duration", "Length", lengths.map((m) => [String(m), duration(m)]), String(st.duration)),
    el("fieldset", { id: "repeat-set", class: "series-only" },
      el("legend", {}, "For a series"),
      el("label", { for: "frequency" }, "How often"),
      el("select", { id: "frequency", name: "frequency" },
        ...["weekly", "biweekly", "monthly"].map((f) => el("option", { value: f, selected: f === st.frequency }, FREQUENCY[f]))),
      el("label", { for: "sessions" }, "Number of sessions"),
      el("input", { id: "sessions", name: "sessions", type: "number", min: "2", max: "52", inputmode: "numeric", value: String(st.sessions) })),
    el("p", { class: "hint" }, match.sessions > 1
      ? `This match is set up for ${match.sessions} sessions ${FREQUENCY[match.frequency] || match.frequency}, ${duration(match.duration_minutes)} each.`
      : `This match is set up for one session of ${duration(match.duration_minutes)}.`),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "button primary" }, "Continue")));
    const repeat = /** @type {HTMLElement} */ (form.querySelector("#repeat-set"));
    const sync = () => { repeat.hidden = /** @type {HTMLInputElement} */ (form.querySelector("input[name=kind]:checked")).value !== "series"; };
    form.addEventListener("change", sync);
    sync();
    body.replaceChildren(form);
  };

  // Step 2: recommended series, a month calendar of dates that suit, the times of a date.
  const when = async () => {
    const n = match.members.length;
    if (!st.month) st.month = ymdIn(st.now, st.zone).slice(0, 7);
    const from = `${st.month}-01`;
    if (!st.heat || st.heat.from !== from || st.heat.zone !== st.zone) {
      const q = new URLSearchParams({ duration: String(st.duration), tz: st.zone, from, weeks: "5" });
      st.heat = { ...(await api("GET", `${base}/heatmap?${q}`)), from, zone: st.zone };
    }
    if (!st.recommended) {
      st.recommended = await api("POST", `${base}/proposals`, {
        limit: 3, duration_minutes: st.duration,
        frequency: st.kind === "once" ? "once" : st.frequency, sessions: st.kind === "once" ? 1 : st.sessions,
      });
    }
    const heat = st.heat, v = heat.view;
    const t0 = new Date(heat.start).getTime(), g = heat.granularity_minutes * 60000;
    /** @param {number} slot */
    const startOf = (slot) => new Date(t0 + slot * g).toISOString();
    /** @type {Record<string, {best: number, times: {iso: string, count: number, slot: number}[]}>} */
    const byDate = {};
    v.dates.forEach((/** @type {string} */ d, /** @type {number} */ di) => {
      const times = [];
      for (const c of openCells(heat, di)) times.push({ iso: startOf(c.slot), count: c.count, slot: c.slot });
      byDate[d] = { best: Math.max(0, ...times.map((t) => t.count)), times };
    });

    const rec = st.recommended.proposals.length
      ? el("ul", { class: "recommended" }, ...st.recommended.proposals.map((/** @type {any} */ p) => {
        const all = p.occurrences.filter((/** @type {any} */ o) => o.missing.length === 0).length;
        const total = p.occurrences.length;
        const label = total === 1 ? dateTime(p.first_start)
          : `${time(p.first_start)} ${FREQUENCY[p.frequency] || p.frequency}, from ${longDate(p.first_start)}`;
        return el("li", {}, el("button", { type: "button", class: "choice", onclick: () => {
          st.start = p.first_start; st.date = ymdIn(p.first_start, st.zone); show(2);
        } }, el("strong", {}, label),
        el("span", {}, recommendation(p, n))));
      }))
      : el("p", { class: "muted" }, st.recommended.reason || "No series fits everyone's availability.");
    if (!st.recommended.proposals.length && st.recommended.reason) {
      // A series that cannot fit the program (too many sessions, too late a start): say
      // so here, not after the details.
      body.replaceChildren(
        el("h2", {}, "This series does not fit"),
        el("div", { class: "notice error", role: "alert" }, el("p", {}, st.recommended.reason)),
        el("div", { class: "actions" }, el("button", { type: "button", class: "button primary", onclick: () => show(0) }, "Change what to book")));
      return;
    }

    // The month: Monday-first weeks covering it.
    const [y, m] = /** @type {string} */ (st.month).split("-").map(Number);
    const first = new Date(Date.UTC(y, m - 1, 1));
    const lead = (first.getUTCDay() + 6) % 7;
    const daysIn = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const cells = [];
    for (let i = 0; i < lead; i++) cells.push(el("span", { class: "day empty", "aria-hidden": "true" }));
    for (let dnum = 1; dnum <= daysIn; dnum++) {
      const ymd = `${st.month}-${String(dnum).padStart(2, "0")}`;
      const info = byDate[ymd];
      const best = info ? info.best : 0;
      const everyone = best === n;
      const text = !info ? "not in the program" : best === 0 ? "no time suits" : everyone ? "everyone can come" : `at best ${best} of ${n} can come`;
      cells.push(el("button", {
        type: "button", class: `day${everyone ? " all" : best ? " some" : ""}`, disabled: !best,
        "aria-pressed": st.date === ymd ? "true" : "false",
        "data-date": ymd, onclick: () => { st.date = ymd; st.start = null; st.allTimes = false; show(1, "times-h"); },
      }, el("span", { class: "num" }, String(dnum)),
      el("span", { class: "sr-only" }, ` ${day(ymd, { weekday: "long", day: "numeric", month: "long" })}: ${text}`),
      everyone ? el("span", { class: "mark", "aria-hidden": "true" }, "●")
        : best && n > 2 ? el("span", { class: "mark", "aria-hidden": "true" }, `${best}/${n}`) : null));
    }
    const monthName = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(first);
    /** @param {number} delta */
    const shift = (delta) => {
      const d = new Date(Date.UTC(y, m - 1 + delta, 1));
      st.month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
      st.date = null; show(1);
    };
    const weekdays = [...Array(7)].map((_, i) => day(`2024-01-0${i + 1}`, { weekday: "short" }));
    const calendar = el("div", { class: "calendar" },
      el("div", { class: "month-nav" },
        el("button", { type: "button", class: "button secondary", onclick: () => shift(-1), disabled: !heat.window.earlier, "aria-label": "Previous month" }, "‹"),
        el("h3", { id: "month-h", "aria-live": "polite" }, monthName),
        el("button", { type: "button", class: "button secondary", onclick: () => shift(1), disabled: !heat.window.later && !Object.keys(byDate).some((d) => d > `${st.month}-31`), "aria-label": "Next month" }, "›")),
      el("div", { class: "weekdays", "aria-hidden": "true" }, ...weekdays.map((w) => el("span", {}, w))),
      el("div", { class: "days", role: "group", "aria-labelledby": "month-h" }, ...cells),
      el("p", { class: "legend" }, el("span", { class: "mark all" }, "●"), " everyone can come",
        n > 2 ? el("span", {}, " · 5/8: at best 5 of 8 can come") : null));

    const picked = st.date ? byDate[st.date] : null;
    // Times that suit everyone first; the others on request.
    const best = picked ? picked.times.filter((t) => t.count === n) : [];
    const shown = picked ? (best.length && !st.allTimes ? best : picked.times) : [];
    const more = picked && best.length && !st.allTimes && picked.times.length > best.length
      ? el("button", { type: "button", class: "link", onclick: () => { st.allTimes = true; show(1); } },
        `Also show ${picked.times.length - best.length} times not everyone can make`) : null;
    const times = el("div", { class: "times", "aria-labelledby": "times-h" },
      el("h3", { id: "times-h" }, st.date ? day(st.date, { weekday: "long", day: "numeric", month: "long" }) : "Pick a date"),
      picked ? (shown.length ? el("ul", {}, ...shown.map((t) => el("li", {},
        el("button", { type: "button", class: `time${t.count === n ? " all" : ""}`, "data-start": t.iso,
          "aria-pressed": st.start === t.iso ? "true" : "false",
          onclick: () => { st.start = t.iso; show(2); } },
        el("span", {}, time(t.iso)),
        el("span", { class: "count" }, t.count === n ? "● everyone" : `${t.count} of ${n}`)))))
        : el("p", {}, "No time on this day suits anyone.")) : el("p", { class: "muted" }, "Dates with a ● suit everyone."),
      more);

    // The week as a heat map: who is free at every time, for those who want to see it all.
    const week = Math.max(0, Math.floor(v.dates.indexOf(st.date || v.dates.find((/** @type {string} */ d) => byDate[d]?.best) || v.dates[0]) / 7));
    const mapBox = el("div", { class: "heatmap-box" });
    const map = el("details", { class: "card", ontoggle: (/** @type {Event} */ ev) => {
      if (!(/** @type {HTMLDetailsElement} */ (ev.target).open) || mapBox.childElementCount) return;
      renderHeatmap(mapBox, heat, { zone: v.timezone, week, selected: st.start,
        onPick: (iso) => { st.start = iso; st.date = ymdIn(iso, st.zone); show(2); } });
    } }, el("summary", {}, "See the whole week: who is free when"), mapBox);
    body.replaceChildren(
      el("h2", {}, st.kind === "once" ? "When?" : "When does the series start?"),
      el("p", { class: "hint" }, `Times in ${st.zone.replaceAll("_", " ")}, ${duration(st.duration)}`,
        st.kind === "series" ? `, ${st.sessions} sessions ${FREQUENCY[st.frequency]}.` : "."),
      el("section", { class: "card", "aria-labelledby": "rec-h" }, el("h3", { id: "rec-h" }, "Recommended"), rec),
      el("div", { class: "booker" }, calendar, times),
      map,
      el("div", { class: "actions" }, el("button", { type: "button", class: "button secondary", onclick: () => show(0) }, "Back")));
  };

  // Step 3: where, and what about.
  const details = async () => {
    if (!st.start) { show(1); return; }
    const form = el("form", { class: "card", novalidate: true, onsubmit: (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const f = new FormData(/** @type {HTMLFormElement} */ (ev.target));
      st.video_url = String(f.get("video_url") || "");
      st.location = String(f.get("location") || "");
      st.agenda = String(f.get("agenda") || "");
      show(3);
    } },
    el("h2", {}, "Where and what about"),
    el("p", {}, `First session: ${longDate(st.start)} at ${time(st.start)}.`),
    el("label", { for: "video_url" }, "Video link (optional)"),
    el("input", { id: "video_url", name: "video_url", type: "url", inputmode: "url", value: st.video_url, placeholder: "https://meet.example.org/…" }),
    el("label", { for: "location" }, "Place (optional)"),
    el("input", { id: "location", name: "location", value: st.location, placeholder: "Room 4.2, Main building", maxlength: "500" }),
    el("label", { for: "agenda" }, "Agenda (optional)"),
    el("textarea", { id: "agenda", name: "agenda", rows: "4", maxlength: "10000" }, st.agenda),
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "button primary" }, "Review"),
      el("button", { type: "button", class: "button secondary", onclick: () => show(1) }, "Back")));
    body.replaceChildren(form);
  };

  const FIELDS = { "conferencing.video_url": "video_url", "conferencing.location": "location", agenda: "agenda" };

  // Step 4: every date, in the viewer's time and each member's, who cannot come; confirm.
  const review = async () => {
    let pv;
    try {
      pv = await api("POST", `${base}/series/preview`, request());
    } catch (e) {
      if (e instanceof ApiError && e.errors.some((x) => x.field.startsWith("conferencing") || x.field === "agenda")) {
        await show(2); failed(e, FIELDS); return;
      }
      throw e;
    }
    const people = pv.members;
    /** @type {Record<string, any>} */
    const byId = Object.fromEntries(people.map((/** @type {any} */ p) => [p.id, p]));
    const nameOf = (/** @type {string} */ id) => byId[id]?.name || id;
    const occ = pv.occurrences;
    const columns = people.length <= 4;
    const me = ctx.me?.member;
    const rows = occ.map((/** @type {any} */ o, /** @type {number} */ i) => el("tr", { class: o.missing.length ? "short" : "" },
      el("th", { scope: "row" }, String(i + 1)),
      el("td", {}, dateTime(o.start)),
      ...(columns ? people.map((/** @type {any} */ p) => el("td", {}, localTime(o.start, p.timezone, st.zone)))
        : [el("td", {}, people.map((/** @type {any} */ p) => `${p.name}: ${localTime(o.start, p.timezone, st.zone)}`).join(" · "))]),
      el("td", {}, o.missing.length ? el("span", { class: "missing" }, `${names(o.missing.map(nameOf))} cannot come`) : "everyone can come",
        o.alternative ? el("span", { class: "alt" }, ` · a better time that week: ${dateTime(o.alternative)}`) : null)));
    const short = occ.filter((/** @type {any} */ o) => o.missing.length).length;
    // Only when a recommendation really has fewer sessions someone misses.
    const better = (st.recommended?.proposals || []).some((/** @type {any} */ p) =>
      p.occurrences.filter((/** @type {any} */ o) => o.missing.length).length < short);
    const clashes = pv.clashes.length ? el("div", { class: "notice error", role: "alert" },
      el("p", { class: "notice-heading" }, "Already booked at these times"),
      el("ul", {}, ...pv.clashes.map((/** @type {any} */ c) => el("li", {}, `${nameOf(c.member)} has another session at ${dateTime(c.start)}`))),
      el("p", {}, "Pick another time.")) : "";
    const where = [st.video_url && `Video: ${st.video_url}`, st.location && `Place: ${st.location}`].filter(Boolean).join(" · ") || "Not given";
    /** @param {string} label @param {string} value @param {number} step */
    const row = (label, value, step) => el("div", { class: "summary-row" },
      el("dt", {}, label), el("dd", {}, value),
      el("dd", {}, el("button", { type: "button", class: "link", onclick: () => show(step), "aria-label": `Change ${label.toLowerCase()}` }, "Change")));
    const count = occ.length;
    body.replaceChildren(
      el("h2", {}, "Check before you send"),
      el("dl", { class: "summary" },
        row("What", count === 1 ? `One session, ${duration(st.duration)}` : `${count} sessions ${FREQUENCY[st.frequency]}, ${duration(st.duration)} each`, 0),
        row("First session", `${longDate(occ[0].start)} at ${time(occ[0].start)} (${st.zone.replaceAll("_", " ")})`, 1),
        row("Where", where, 2),
        row("Agenda", st.agenda.trim() || "None", 2)),
      clashes,
      el("h3", {}, count === 1 ? "The session" : `All ${count} sessions`),
      short === count && count > 1 && better ? el("div", { class: "notice", role: "status" },
        el("p", { class: "notice-heading" }, "Someone cannot come to any of these sessions"),
        el("p", {}, "The recommended times on the previous step suit more people."))
        : el("p", { class: "hint" }, short ? `Someone cannot come to ${short} of ${count}.` : "Everyone can come to every session."),
      el("div", { class: "scroll" }, el("table", { class: "table occurrences" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "#"), el("th", { scope: "col" }, "Your time"),
          ...(columns ? people.map((/** @type {any} */ p) => el("th", { scope: "col" }, p.id === me ? `Your own time (${zoneCity(p.timezone)})` : `${p.name} (${zoneCity(p.timezone)})`)) : [el("th", { scope: "col" }, "Each person's time")]),
          el("th", { scope: "col" }, "Who can come"))),
        el("tbody", {}, ...rows))),
      el("p", {}, `Invites go to ${names(people.map((/** @type {any} */ p) => (p.id === me ? "you" : p.name)))} when you book.`),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "button primary", id: "confirm", disabled: !pv.bookable, onclick: confirm },
          `Book and send invites to ${people.length} people`),
        el("button", { type: "button", class: "button secondary", onclick: () => show(1) }, "Pick another time")));
  };

  const confirm = async () => {
    const button = /** @type {HTMLButtonElement} */ (document.getElementById("confirm"));
    button.disabled = true;
    let s;
    try {
      s = await api("POST", `${base}/series`, request());
    } catch (e) {
      button.disabled = false;
      if (e instanceof ApiError && e.clashes.length) {
        notice(messages, "error", "Someone was booked at one of these times meanwhile", "Nothing was sent. Pick another time.");
        return;
      }
      failed(e, FIELDS);
      return;
    }
    done(s);
  };

  /** @param {any} s */
  const done = (s) => {
    progress.replaceChildren();
    const people = match.members.filter((/** @type {any} */ m) => s.members.includes(m.id));
    const until = s.undo_until ? new Date(s.undo_until).getTime() : 0;
    const undo = until > Date.now() ? el("button", { type: "button", class: "button secondary", id: "undo" }, "Undo") : null;
    const when = until > Date.now() ? el("span", { class: "hint", id: "undo-note" }) : null;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0 || !undo || !when) { undo?.remove(); if (when) when.textContent = "The invites have gone out."; return; }
      when.textContent = ` Invites go out in ${left} s.`;
      setTimeout(tick, 500);
    };
    undo?.addEventListener("click", async () => {
      try {
        await api("POST", `${programPath(pid)}/series/${encodeURIComponent(s.id)}/undo`);
        notice(messages, "success", "Undone", "Nothing was sent, and the time is free again.");
        body.replaceChildren(el("p", {}, el("a", { href: `/book/${encodeURIComponent(xid)}`, "data-link": "" }, "Book again"), " · ",
          el("a", { href: "/", "data-link": "" }, "Home")));
      } catch (e) { failed(e); }
    });
    notice(messages, "success", s.sessions.length === 1 ? "Session booked" : `${s.sessions.length} sessions booked`,
      `First session ${longDate(s.first_start)} at ${time(s.first_start)}. Invites ${until > Date.now() ? "are going" : "went"} to ${names(people.map((/** @type {any} */ m) => m.name))}.`);
    body.replaceChildren(
      el("div", { class: "actions" }, undo, when),
      el("ul", { class: "links" },
        el("li", {}, el("a", { href: `${programPath(pid)}/series/${encodeURIComponent(s.id)}/invite.ics`, download: "sessions.ics" }, "Add to my calendar (.ics)")),
        el("li", {}, el("a", { href: `/matches/${encodeURIComponent(xid)}`, "data-link": "" }, "See and manage these sessions")),
        el("li", {}, el("a", { href: "/", "data-link": "" }, "Back to home"))));
    if (undo) tick();
  };

  await show(0);
}

/** A member's local time, with the day when it differs from the viewer's. @param {string} iso @param {string} zone @param {string} viewer */
function localTime(iso, zone, viewer) {
  if (!zone) return "—";
  const same = ymdIn(iso, zone) === ymdIn(iso, viewer);
  return same ? time(iso, zone) : `${time(iso, zone)} (${new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: zone }).format(new Date(iso))})`;
}

/** What a recommended series offers: everyone at how many sessions, or at worst how many.
 * @param {any} p @param {number} n */
function recommendation(p, n) {
  const occ = p.occurrences, total = occ.length;
  const all = occ.filter((/** @type {any} */ o) => o.missing.length === 0).length;
  if (total === 1) return all ? "everyone can come" : `${occ[0].attending.length} of ${n} can come`;
  if (all === total) return `everyone can come to all ${total}`;
  if (all > 0) return `everyone can come to ${all} of ${total}`;
  const least = Math.min(...occ.map((/** @type {any} */ o) => o.attending.length));
  return `at least ${least} of ${n} can come to each`;
}
