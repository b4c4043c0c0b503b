// @ts-check
// A member's own availability: their time zone, the weekly times they are free (painted on
// a week grid, weekgrid.js), time away, a calendar of their own whose busy times are kept
// free, a link to subscribe to their sessions and one to their free/busy for other
// scheduling tools. Saved as their member record, through the same API and checks as
// every other edit.

import { api, programPath, ApiError } from "./api.js";
import { ctx } from "./main.js";
import { el, notice, errorSummary, focusHeading, allZones, zoneIsValid, day } from "./ui.js";
import { renderWeekGrid, DAYS } from "./weekgrid.js";
import { writebackSection } from "./writeback.js";

/** @typedef {import("./weekgrid.js").Window} Window */
/** @typedef {{start: string, end: string, origStart: string, origEnd: string}} Away
 *  start: first day away, end: last day away (YYYY-MM-DD); orig*: as stored */

const DEFAULT_HOURS = [{ days: ["MO", "TU", "WE", "TH", "FR"], start: "09:00", end: "17:00" }];

/** @param {HTMLElement} root */
export async function availability(root) {
  const pid = /** @type {string} */ (ctx.program);
  const mid = ctx.me?.member;
  if (!mid) throw new Error("Only members of a program have availability here.");
  const doc = await api("GET", programPath(pid));
  /** @type {any} */
  let me = doc.members.find((/** @type {any} */ m) => m.id === mid);
  if (!me) throw new Error("Your member record was not found.");
  const memberPath = `${programPath(pid)}/members/${encodeURIComponent(mid)}`;
  const g = Number(doc.program.granularity_minutes) || 15;
  const step = g >= 60 ? 60 : 30;
  const programZone = String(doc.program.timezone || "UTC");
  /** @type {Window[]} */
  const working = doc.program.working_hours || DEFAULT_HOURS;
  const messages = el("div", { class: "messages" });
  const unsaved = el("p", { class: "hint", role: "status" });
  const markUnsaved = () => { unsaved.textContent = "You have changes that are not saved yet."; };

  // Time zone: the grid's times are wall-clock times in it.
  const zone = /** @type {HTMLInputElement} */ (el("input", { id: "timezone", list: "tz-list",
    value: me.timezone || programZone, autocomplete: "off", "aria-describedby": "timezone-hint", "data-hint": "timezone-hint" }));
  const zoneField = el("div", { class: "field" },
    el("label", { for: "timezone" }, "Your time zone"),
    el("p", { class: "hint", id: "timezone-hint" },
      "The times below are clock times in this zone: changing it keeps 09:00 at 09:00 there."),
    zone, el("datalist", { id: "tz-list" }, ...allZones().map((z) => el("option", { value: z }))));
  zone.addEventListener("input", () => {
    const z = zone.value.trim();
    if (zoneIsValid(z) && z) { grid.setZone(z); markUnsaved(); }
  });

  // Language: the date and time formats of the mails (a BCP 47 tag the server checks).
  const locale = /** @type {HTMLInputElement} */ (el("input", { id: "locale", list: "locale-list",
    value: me.locale || "", autocomplete: "off", spellcheck: "false", "aria-describedby": "locale-hint", "data-hint": "locale-hint",
    oninput: markUnsaved }));
  const localeField = el("div", { class: "field" },
    el("label", { for: "locale" }, "Your language for dates in mails"),
    el("p", { class: "hint", id: "locale-hint" },
      "A language tag such as de-DE, en-US or pt-BR. Empty: the English format, Tue 12 Jan 2027 14:00."),
    locale, el("datalist", { id: "locale-list" }, ...localeChoices().map(([tag, name]) => el("option", { value: tag, label: name }))));

  // The weekly grid.
  const gridBox = el("div", { id: "weekly" });
  const grid = renderWeekGrid(gridBox, { step, weekly: me.weekly || [], zone: me.timezone || programZone,
    onChange: () => { markUnsaved(); defaultsNote(); } });
  const defaults = el("div", { class: "notice info wg-defaults" });
  const defaultsNote = () => {
    const none = grid.windows().length === 0;
    defaults.hidden = !none;
    if (!none) return;
    defaults.replaceChildren(
      el("p", { class: "notice-heading" }, "No free time marked"),
      el("p", {}, `Until you mark some, the program's working hours count as your free time: ${working.map(windowText).join("; ")} (in your time zone).`),
      el("button", { type: "button", class: "button small secondary", onclick: () => grid.paintWindows(working) },
        "Start from these hours"));
  };
  defaultsNote();

  // Time away.
  /** @type {Away[]} */
  const away = (me.unavailable || []).map((/** @type {any} */ u) => ({
    start: String(u.start).slice(0, 10), end: lastDay(String(u.end)), origStart: u.start, origEnd: u.end }));
  const aways = el("div", {});
  const drawAway = () => aways.replaceChildren(...away.map((a, i) => el("fieldset", { class: "window away", id: `unavailable-${i}` },
    el("legend", {}, `Time away ${i + 1}`),
    el("label", {}, "First day away",
      el("input", { type: "date", value: a.start, id: `unavailable-${i}-start`, min: "1900-01-01", max: "2999-12-31",
        onchange: (/** @type {Event} */ ev) => { a.start = /** @type {HTMLInputElement} */ (ev.target).value; markUnsaved(); } })),
    el("label", {}, "Last day away",
      el("input", { type: "date", value: a.end, id: `unavailable-${i}-end`, min: "1900-01-01", max: "2999-12-31",
        onchange: (/** @type {Event} */ ev) => { a.end = /** @type {HTMLInputElement} */ (ev.target).value; markUnsaved(); } })),
    keptTimes(a),
    el("button", { type: "button", class: "button small secondary", "aria-label": `Remove time away ${i + 1}`,
      onclick: () => { away.splice(i, 1); drawAway(); markUnsaved(); } }, "Remove"))),
  el("button", { type: "button", class: "button secondary", onclick: () => {
    away.push({ start: "", end: "", origStart: "", origEnd: "" }); drawAway(); markUnsaved();
    /** @type {HTMLElement|null} */ (document.getElementById(`unavailable-${away.length - 1}-start`))?.focus();
  } }, "Add time away"));

  /** Field ids by the API's field names (with or without the "members[i]." prefix). */
  const fieldIds = () => Object.fromEntries([["timezone", "timezone"], ["locale", "locale"], ["weekly", "weekly"],
    ...grid.windows().map((_, i) => [`weekly[${i}]`, "weekly"]),
    ...away.flatMap((_, i) => [[`unavailable[${i}]`, `unavailable-${i}-start`],
      [`unavailable[${i}].start`, `unavailable-${i}-start`], [`unavailable[${i}].end`, `unavailable-${i}-end`]]),
    ...(me.calendars || []).flatMap((/** @type {any} */ _, /** @type {number} */ i) =>
      [[`calendars[${i}]`, "ics-url"], [`calendars[${i}].ics_url`, "ics-url"]])]);

  /** Problems the page can see before asking the server. */
  const problems = () => {
    /** @type {{field: string, message: string}[]} */
    const out = [];
    const z = zone.value.trim();
    if (!z || !zoneIsValid(z)) out.push({ field: "timezone", message: "Enter a time zone from the list, for example Europe/Lisbon" });
    away.forEach((a, i) => {
      if (!a.start) out.push({ field: `unavailable[${i}].start`, message: `Enter the first day of time away ${i + 1}` });
      if (!a.end) out.push({ field: `unavailable[${i}].end`, message: `Enter the last day of time away ${i + 1}` });
      else if (a.start && a.end < a.start) {
        out.push({ field: `unavailable[${i}].end`, message: `The last day away must be the same as or after the first day (${day(a.start)})` });
      }
    });
    return out;
  };

  const save = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const found = problems();
    if (found.length) { errorSummary(messages, found, fieldIds()); return; }
    messages.replaceChildren(el("p", { class: "loading", role: "status" }, "Saving…"));
    const z = zone.value.trim();
    /** @type {any} */
    const body = { ...me, weekly: grid.windows(),
      unavailable: away.map((a) => ({
        start: a.origStart && a.origStart.slice(0, 10) === a.start ? a.origStart : `${a.start}T00:00`,
        end: a.origEnd && lastDay(a.origEnd) === a.end ? a.origEnd : `${nextDay(a.end)}T00:00` })) };
    if (me.timezone || z !== programZone) body.timezone = z;
    if (locale.value.trim()) body.locale = locale.value.trim(); else delete body.locale;
    try {
      me = await api("PUT", memberPath, body);
      locale.value = me.locale || "";  // as the server keeps it: pt-br is pt-BR
      away.forEach((a, i) => { a.origStart = me.unavailable?.[i]?.start ?? ""; a.origEnd = me.unavailable?.[i]?.end ?? ""; });
      unsaved.textContent = "";
      clearFieldErrors(root);
      notice(messages, "success", "Saved", "New bookings use your new availability; sessions already booked stay.");
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) {
        errorSummary(messages, e.errors.map((x) => ({ field: x.field.replace(/^members\[\d+\]\./, ""),
          message: x.message === "must be after start" && /^(members\[\d+\]\.)?unavailable\[\d+\]\.end$/.test(x.field)
            ? "The last day away must be the same as or after the first day" : x.message })), fieldIds());
      } else notice(messages, "error", "Not saved", e instanceof Error ? e.message : String(e));
    }
  };
  drawAway();

  root.replaceChildren(
    el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, "Your availability"), messages,
    el("form", { class: "card av-card", novalidate: true, onsubmit: save, "aria-labelledby": "weekly-h" },
      el("h2", { id: "weekly-h" }, "When you are usually free"), zoneField, localeField, defaults, gridBox,
      el("h2", {}, "Time away"),
      el("p", { class: "hint" }, "Holidays and other days you cannot meet: nothing is booked from the start of the first day to the end of the last day."),
      aways,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "button primary" }, "Save"), unsaved)),
    calendarSection(),
    feedSection(),
    writebackSection(memberPath));
  focusHeading(root);

  /** Your own calendar: its busy times are kept free of sessions. */
  function calendarSection() {
    const box = el("section", { class: "card av-card", "aria-labelledby": "cal-h" });
    const msg = el("div", {});
    const input = /** @type {HTMLInputElement} */ (el("input", { type: "url", id: "ics-url", autocomplete: "off",
      inputmode: "url", spellcheck: "false", "aria-describedby": "ics-url-hint", "data-hint": "ics-url-hint" }));
    const list = el("div", {});
    const drawList = () => {
      /** @type {any[]} */
      const cals = me.calendars || [];
      list.replaceChildren(cals.length
        ? el("ul", { class: "calendars" }, ...cals.map((c, i) => el("li", {},
          el("span", { class: "cal-name" }, c.ics_url ? c.ics_url : c.ics_text ? "A calendar sent as a file" : "A calendar set by your program's admin"),
          el("button", { type: "button", class: "button small secondary", "aria-label": `Remove calendar ${i + 1}`,
            onclick: () => remove(i) }, "Remove"))))
        : el("p", { class: "muted" }, "No calendar yet."));
    };
    /** @param {number} i */
    const remove = async (i) => {
      // No route removes a calendar: the member record is sent again without it.
      const body = { ...me, calendars: (me.calendars || []).filter((/** @type {any} */ _, /** @type {number} */ j) => j !== i) };
      try {
        me = await api("PUT", memberPath, body);
        drawList();
        clearFieldErrors(box);
        notice(msg, "success", "Calendar removed", "Its busy times no longer keep you from being booked.");
      } catch (e) { apiProblem(msg, e, "Not removed"); }
    };
    const add = async (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const url = input.value.trim();
      if (!url) { errorSummary(msg, [{ field: "ics_url", message: "Enter the address of your calendar (it starts with https:// or webcal://)" }], { ics_url: "ics-url" }); return; }
      try {
        const r = await api("PUT", `${memberPath}/calendar`, { ics_url: url });
        me = { ...me, calendars: [{ ics_url: r.ics_url ?? url }] };
        input.value = "";
        drawList();
        clearFieldErrors(box);
        notice(msg, "success", "Calendar added",
          `${r.busy_intervals} busy ${r.busy_intervals === 1 ? "time" : "times"} read from it in the program's dates; we read it again when you change it.`);
      } catch (e) { apiProblem(msg, e, "Calendar not added", { ics_url: "ics-url", calendar: "ics-url" }); }
    };
    drawList();
    box.append(el("h2", { id: "cal-h" }, "Your own calendar"),
      el("p", {}, "Give the address of a calendar you already keep, and the times it shows you as busy are kept free of sessions."),
      msg, list,
      el("form", { novalidate: true, onsubmit: add },
        el("label", { for: "ics-url" }, "Calendar address (iCal / ICS)"),
        el("p", { class: "hint", id: "ics-url-hint" },
          "Google Calendar: Settings → your calendar → “Secret address in iCal format”. Outlook: Settings → Calendar → Shared calendars → Publish → ICS link. " +
          "Apple iCloud: share the calendar as a public calendar. A new address replaces the calendar above."),
        input,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "button secondary" }, "Add calendar"))));
    return box;
  }

  /** The feed: your sessions in your own calendar app, and (same secret) your free/busy
   * for other scheduling tools. */
  function feedSection() {
    const out = el("div", {});
    const make = el("button", { type: "button", class: "button secondary", onclick: async () => {
      try {
        const r = await api("POST", `${memberPath}/feed-token`);
        out.replaceChildren(
          ...linkField("feed-url", "Your calendar link", "calendar link", r.url),
          ...linkField("freebusy-url", "Your free/busy link", "free/busy link", r.freebusy_url,
            "For other scheduling tools: shows when you are busy, never what."),
          el("p", { class: "hint" }, "They are shown once. Making new links stops both."));
        make.textContent = "Make new links";
      } catch (e) { apiProblem(out, e, "No link"); }
    } }, "Make my calendar link");
    return el("section", { class: "card av-card", "aria-labelledby": "feed-h" },
      el("h2", { id: "feed-h" }, "Your sessions in your calendar"),
      el("p", {}, "Subscribe to a private link and your sessions appear in your calendar app, and stay up to date. Anyone with the link sees your sessions, so keep it to yourself."),
      el("ul", { class: "subscribe" },
        el("li", {}, el("strong", {}, "Google Calendar"), ": Other calendars → + → From URL, paste the link."),
        el("li", {}, el("strong", {}, "Outlook"), ": Add calendar → Subscribe from web, paste the link."),
        el("li", {}, el("strong", {}, "Apple Calendar"), ": File → New Calendar Subscription (on iPhone: Settings → Calendar → Accounts → Add Subscribed Calendar), paste the link.")),
      el("div", { class: "actions" }, make), out);
  }
}

/** A link shown once: its label, an optional line on what it is for, the link selected
 * for copying and a button that copies it.
 * @param {string} id @param {string} label @param {string} what the link, for the button
 * @param {string} url @param {string} [hint] @returns {HTMLElement[]} */
function linkField(id, label, what, url, hint) {
  const input = /** @type {HTMLInputElement} */ (el("input", { id, readonly: true, value: url,
    ...(hint ? { "aria-describedby": `${id}-hint` } : {}) }));
  const said = el("span", { class: "copied", role: "status" });
  const copy = el("button", { type: "button", class: "button small secondary", onclick: async () => {
    input.select();
    let ok = false;
    try { await navigator.clipboard.writeText(url); ok = true; } catch { ok = document.execCommand("copy"); }
    copy.textContent = ok ? "Copied" : `Copy ${what}`;
    said.textContent = ok ? `${what[0].toUpperCase()}${what.slice(1)} copied` : "Press Ctrl+C (⌘C on a Mac) to copy the selected link";
  } }, `Copy ${what}`);
  return [el("label", { for: id }, label),
    ...(hint ? [el("p", { class: "hint", id: `${id}-hint` }, hint)] : []),
    input, el("div", { class: "actions" }, copy, said)];
}

/** The error an action got, next to its field when the API names one. @param {HTMLElement} where
 * @param {unknown} e @param {string} heading @param {Record<string, string>} [ids] */
function apiProblem(where, e, heading, ids = {}) {
  if (e instanceof ApiError && e.errors.length && Object.keys(ids).length) {
    // The API words a message "ics_url: …"; next to the field its name is not needed.
    errorSummary(where, e.errors.map((x) => ({ field: x.field.replace(/^members\[\d+\]\./, ""),
      message: x.field && x.message.startsWith(`${x.field}: `) ? x.message.slice(x.field.length + 2) : x.message })), ids);
  } else notice(where, "error", heading, e instanceof Error ? e.message : String(e));
}

/** Take away the field errors (and their marks) an earlier summary put inside ``scope``.
 * @param {HTMLElement} scope */
function clearFieldErrors(scope) {
  scope.querySelectorAll(".field-error").forEach((e) => e.remove());
  scope.querySelectorAll("[aria-invalid]").forEach((e) => {
    e.removeAttribute("aria-invalid");
    const hint = /** @type {HTMLElement} */ (e).dataset.hint;
    if ((e.getAttribute("aria-describedby") || "").endsWith("-error")) {
      if (hint) e.setAttribute("aria-describedby", hint); else e.removeAttribute("aria-describedby");
    }
  });
}

/** A stored end (exclusive, "YYYY-MM-DDTHH:MM") as the last day away: the day before when
 * it ends at midnight. @param {string} end */
function lastDay(end) {
  const ymd = end.slice(0, 10);
  const t = end.slice(11, 16);
  return !t || t === "00:00" ? nextDay(ymd, -1) : ymd;
}

/** @param {string} ymd @param {number} [n] */
function nextDay(ymd, n = 1) {
  const d = new Date(`${ymd}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return ymd;
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Times of a stored time away that are not whole days, kept unless its dates change. @param {Away} a */
function keptTimes(a) {
  const s = a.origStart.slice(11, 16), e = a.origEnd.slice(11, 16);
  if ((!s || s === "00:00") && (!e || e === "00:00")) return null;
  return el("p", { class: "hint" }, `Set elsewhere from ${s || "00:00"} on the first day to ${e || "00:00"} (kept while these dates stay).`);
}

/** "Mon–Fri 09:00–17:00" for the program's working hours. @param {Window} w */
function windowText(w) {
  const f = new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" });
  const name = (/** @type {string} */ d) => f.format(new Date(Date.UTC(2024, 0, 1 + DAYS.indexOf(d))));
  const idx = w.days.map((d) => DAYS.indexOf(d));
  const run = idx.length > 2 && idx.every((v, i) => i === 0 || v === idx[i - 1] + 1);
  const days = run ? `${name(w.days[0])}–${name(w.days[w.days.length - 1])}` : w.days.map(name).join(", ");
  return `${days} ${w.start}–${w.end}`;
}

/** Language tags offered for the mails' date formats: the browser's own first, then common
 * ones, each named in its own language. Any other tag may be typed; the server checks it.
 * @returns {[string, string][]} */
function localeChoices() {
  const common = ["en-GB", "en-US", "de-DE", "fr-FR", "es-ES", "pt-BR", "pt-PT", "it-IT", "nl-NL", "sv-SE",
    "pl-PL", "tr-TR", "ru-RU", "uk-UA", "ar-EG", "hi-IN", "ja-JP", "ko-KR", "zh-CN", "zh-TW"];
  const tags = [...new Set([...(navigator.languages || []), ...common])]
    .filter((t) => /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(t));
  return tags.map((t) => {
    try { return [t, new Intl.DisplayNames([t], { type: "language" }).of(t) || t]; } catch { return [t, t]; }
  });
}
