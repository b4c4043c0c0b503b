// @ts-check
// A member's own availability: their time zone, the weekly times they are free, time away,
// and a calendar link to subscribe to their sessions. Saved as their member record, through
// the same API and checks as every other edit.

import { api, programPath, ApiError } from "./api.js";
import { ctx } from "./main.js";
import { el, notice, errorSummary, focusHeading, allZones } from "./ui.js";

const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/** @param {HTMLElement} root */
export async function availability(root) {
  const pid = /** @type {string} */ (ctx.program);
  const mid = ctx.me?.member;
  if (!mid) throw new Error("Only members of a program have availability here.");
  const doc = await api("GET", programPath(pid));
  const me = doc.members.find((/** @type {any} */ m) => m.id === mid);
  if (!me) throw new Error("Your member record was not found.");
  const messages = el("div", { class: "messages" });
  const dayName = (/** @type {number} */ i) => new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i)));
  /** @type {{days: string[], start: string, end: string}[]} */
  const weekly = (me.weekly || []).map((/** @type {any} */ w) => ({ days: [...w.days], start: w.start, end: w.end }));
  /** @type {{start: string, end: string}[]} */
  const away = (me.unavailable || []).map((/** @type {any} */ u) => ({ start: u.start.slice(0, 10), end: u.end.slice(0, 10) }));
  const windows = el("div", {});
  const aways = el("div", {});

  const drawWindows = () => windows.replaceChildren(...weekly.map((w, i) => el("fieldset", { class: "window", id: `weekly-${i}` },
    el("legend", {}, `Free time ${i + 1}`),
    el("div", { class: "days-pick" }, ...DAYS.map((d, di) => el("label", { class: "check" },
      el("input", { type: "checkbox", checked: w.days.includes(d), onchange: (/** @type {Event} */ ev) => {
        const on = /** @type {HTMLInputElement} */ (ev.target).checked;
        w.days = DAYS.filter((x) => (x === d ? on : w.days.includes(x)));
      } }), dayName(di)))),
    el("label", {}, "From ", el("input", { type: "time", value: w.start, step: "900", id: `weekly-${i}-start`, onchange: (/** @type {Event} */ ev) => { w.start = /** @type {HTMLInputElement} */ (ev.target).value; } })),
    el("label", {}, "To ", el("input", { type: "time", value: w.end, step: "900", id: `weekly-${i}-end`, onchange: (/** @type {Event} */ ev) => { w.end = /** @type {HTMLInputElement} */ (ev.target).value; } })),
    el("button", { type: "button", class: "button small secondary", onclick: () => { weekly.splice(i, 1); drawWindows(); } }, "Remove"))),
  el("button", { type: "button", class: "button secondary", onclick: () => { weekly.push({ days: ["MO"], start: "09:00", end: "17:00" }); drawWindows(); } }, "Add free time"));

  const drawAway = () => aways.replaceChildren(...away.map((a, i) => el("fieldset", { class: "window", id: `unavailable-${i}` },
    el("legend", {}, `Away ${i + 1}`),
    el("label", {}, "From ", el("input", { type: "date", value: a.start, id: `unavailable-${i}-start`, onchange: (/** @type {Event} */ ev) => { a.start = /** @type {HTMLInputElement} */ (ev.target).value; } })),
    el("label", {}, "Until (not included) ", el("input", { type: "date", value: a.end, id: `unavailable-${i}-end`, onchange: (/** @type {Event} */ ev) => { a.end = /** @type {HTMLInputElement} */ (ev.target).value; } })),
    el("button", { type: "button", class: "button small secondary", onclick: () => { away.splice(i, 1); drawAway(); } }, "Remove"))),
  el("button", { type: "button", class: "button secondary", onclick: () => { away.push({ start: "", end: "" }); drawAway(); } }, "Add time away"));

  const zone = /** @type {HTMLInputElement} */ (el("input", { id: "timezone", list: "tz-list", value: me.timezone || "", autocomplete: "off" }));
  const save = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const body = { ...me, timezone: zone.value.trim(), weekly,
      unavailable: away.map((a) => ({ start: `${a.start}T00:00`, end: `${a.end}T00:00` })) };
    try {
      await api("PUT", `${programPath(pid)}/members/${encodeURIComponent(mid)}`, body);
      notice(messages, "success", "Saved", "New bookings use your new availability; sessions already booked stay.");
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) {
        errorSummary(messages, e.errors.map((x) => ({ ...x, field: x.field.replace(/^members\[\d+\]\./, "") })),
          Object.fromEntries([["timezone", "timezone"],
            ...weekly.flatMap((_, i) => [[`weekly[${i}]`, `weekly-${i}-start`], [`weekly[${i}].end`, `weekly-${i}-end`], [`weekly[${i}].start`, `weekly-${i}-start`]]),
            ...away.flatMap((_, i) => [[`unavailable[${i}]`, `unavailable-${i}-start`], [`unavailable[${i}].end`, `unavailable-${i}-end`], [`unavailable[${i}].start`, `unavailable-${i}-start`]])]));
      } else notice(messages, "error", "Not saved", e instanceof Error ? e.message : String(e));
    }
  };
  const feed = el("div", {},
    el("p", {}, "Subscribe to your sessions in your own calendar app (Google Calendar: Other calendars → From URL; Outlook: Add calendar → Subscribe from web; Apple Calendar: File → New Calendar Subscription). The link is private: anyone with it sees your sessions."),
    el("button", { type: "button", class: "button secondary", onclick: async () => {
      try {
        const r = await api("POST", `${programPath(pid)}/members/${encodeURIComponent(mid)}/feed-token`);
        const input = el("input", { id: "feed-url", readonly: true, value: r.url });
        feed.replaceChildren(el("label", { for: "feed-url" }, "Your calendar link (a new link stops the old one)"), input,
          el("button", { type: "button", class: "button small secondary", onclick: () => navigator.clipboard?.writeText(r.url) }, "Copy"));
      } catch (e) { notice(messages, "error", "No link", e instanceof Error ? e.message : String(e)); }
    } }, "Make my calendar link"));
  drawWindows();
  drawAway();
  root.replaceChildren(
    el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, "Your availability"), messages,
    el("form", { class: "card", novalidate: true, onsubmit: save },
      el("label", { for: "timezone" }, "Your time zone"), zone,
      el("datalist", { id: "tz-list" }, ...allZones().map((z) => el("option", { value: z }))),
      el("h2", {}, "When you are usually free"), el("p", { class: "hint" }, "Times in your time zone, every week."), windows,
      el("h2", {}, "Time away"), aways,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "button primary" }, "Save"))),
    el("section", { class: "card", "aria-labelledby": "feed-h" }, el("h2", { id: "feed-h" }, "Your sessions in your calendar"), feed));
  focusHeading(root);
}
