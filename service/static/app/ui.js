// @ts-check
// Small DOM and formatting helpers shared by every view: elements, dates and times in the
// viewer's zone and locale, messages that stay until dismissed, error summaries that link
// to their fields, and a confirmation dialog.

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const ZONE_KEY = "slotwise-zone";

/** The zone the viewer reads times in: their choice, else the browser's. */
export function viewerZone() {
  const saved = localStorage.getItem(ZONE_KEY);
  if (saved && zoneIsValid(saved)) return saved;
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** A zone as people name it: "Lisbon" for Europe/Lisbon. @param {string} zone */
export function zoneCity(zone) { return (zone || "").split("/").pop()?.replaceAll("_", " ") || zone; }

/** @param {string} zone */
export function setViewerZone(zone) { localStorage.setItem(ZONE_KEY, zone); }

/** @param {string} zone */
export function zoneIsValid(zone) {
  try { new Intl.DateTimeFormat(undefined, { timeZone: zone }); return true; } catch { return false; }
}

export function allZones() {
  // @ts-ignore: supportedValuesOf is in every browser this page supports
  return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [viewerZone()];
}

/**
 * @param {string|Date} when
 * @param {Intl.DateTimeFormatOptions} opts
 * @param {string} [zone]
 */
export function fmt(when, opts, zone) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone || viewerZone(), ...opts })
    .format(typeof when === "string" ? new Date(when) : when);
}

/** "Tue 12 Jan, 09:00" in the viewer's zone (or ``zone``). @param {string} iso @param {string} [zone] */
export const dateTime = (iso, zone) =>
  fmt(iso, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }, zone);
/** "Tuesday 12 January 2027" @param {string} iso @param {string} [zone] */
export const longDate = (iso, zone) =>
  fmt(iso, { weekday: "long", day: "numeric", month: "long", year: "numeric" }, zone);
/** "09:00" @param {string} iso @param {string} [zone] */
export const time = (iso, zone) => fmt(iso, { hour: "2-digit", minute: "2-digit" }, zone);

/** A calendar date (YYYY-MM-DD, no zone) as "Tue 12 Jan". @param {string} ymd @param {Intl.DateTimeFormatOptions} [opts] */
export function day(ymd, opts = { weekday: "short", day: "numeric", month: "short" }) {
  return new Intl.DateTimeFormat(undefined, { timeZone: "UTC", ...opts }).format(new Date(ymd + "T12:00:00Z"));
}

/** The calendar date (YYYY-MM-DD) of an instant in a zone. @param {string|Date} when @param {string} [zone] */
export function ymdIn(when, zone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone || viewerZone(), year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(typeof when === "string" ? new Date(when) : when);
  const get = (/** @type {string} */ t) => parts.find((p) => p.type === t)?.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** @param {number} minutes */
export function duration(minutes) {
  if (minutes % 60 === 0) return minutes === 60 ? "1 hour" : `${minutes / 60} hours`;
  return `${minutes} minutes`;
}

export const FREQUENCY = /** @type {Record<string, string>} */ ({
  weekly: "every week", biweekly: "every two weeks", monthly: "every month", once: "once",
});

/** A list of names as a sentence: "Ana, Ben and Chen". @param {string[]} names */
export function names(names) {
  return new Intl.ListFormat(undefined, { style: "long", type: "conjunction" }).format(names);
}

/** A match as people read it: the other people's names (or everyone's). @param {any} match @param {string|null} me */
export function matchTitle(match, me) {
  const others = match.members.filter((/** @type {any} */ m) => m.id !== me);
  const shown = others.length ? others : match.members;
  if (match.kind === "pair") return shown.map((/** @type {any} */ m) => m.name).join(" & ");
  const first = shown.slice(0, 3).map((/** @type {any} */ m) => m.name);
  const more = shown.length - first.length;
  return `Group: ${first.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}

/**
 * A message that stays until the next action replaces it (role=status is read out).
 * @param {HTMLElement} where
 * @param {"success"|"error"|"info"} kind
 * @param {string|Node} heading
 * @param {...(Node|string)} body
 */
export function notice(where, kind, heading, ...body) {
  const box = el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", tabindex: "-1" },
    el("p", { class: "notice-heading" }, heading), ...body.map((b) => typeof b === "string" ? el("p", {}, b) : b));
  where.replaceChildren(box);
  box.focus();
  return box;
}

/**
 * GOV.UK-style error summary: what is wrong, each item linking to its field; the fields
 * themselves get their message next to them.
 * @param {HTMLElement} where
 * @param {{field: string, message: string}[]} errors
 * @param {Record<string, string>} [fieldIds] API field name → input id
 */
export function errorSummary(where, errors, fieldIds = {}) {
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const items = errors.map((e) => {
    const id = fieldIds[e.field] || fieldIds[e.field.split(".")[0]];
    const input = id ? document.getElementById(id) : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const msg = el("p", { class: "field-error", id: `${id}-error` }, e.message);
      input.setAttribute("aria-describedby", msg.id);
      (input.closest("label, fieldset") || input).after(msg);
    }
    return el("li", {}, input ? el("a", { href: `#${id}` }, e.message) : `${e.field ? e.field + ": " : ""}${e.message}`);
  });
  const box = el("div", { class: "notice error", role: "alert", tabindex: "-1" },
    el("p", { class: "notice-heading" }, "There is a problem"), el("ul", {}, ...items));
  where.replaceChildren(box);
  box.focus();
}

/**
 * Ask before doing something that reaches other people or cannot be undone.
 * @param {{title: string, body: (Node|string)[], confirm: string, danger?: boolean, note?: string}} o
 * @returns {Promise<{ok: boolean, note: string}>}
 */
export function confirmDialog(o) {
  return new Promise((resolve) => {
    const note = o.note ? el("textarea", { id: "confirm-note", rows: "3", maxlength: "2000" }) : null;
    const dialog = /** @type {HTMLDialogElement} */ (el("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      el("h2", { id: "confirm-title" }, o.title),
      ...o.body.map((b) => typeof b === "string" ? el("p", {}, b) : b),
      note ? el("label", { for: "confirm-note" }, o.note) : null, note,
      el("div", { class: "actions" },
        el("button", { type: "button", class: o.danger ? "button danger" : "button primary", "data-act": "ok" }, o.confirm),
        el("button", { type: "button", class: "button secondary", "data-act": "no" }, "Go back"))));
    const close = (/** @type {boolean} */ ok) => {
      dialog.close();
      dialog.remove();
      resolve({ ok, note: note ? /** @type {HTMLTextAreaElement} */ (note).value.trim() : "" });
    };
    dialog.addEventListener("click", (ev) => {
      const act = /** @type {HTMLElement} */ (ev.target).dataset?.act;
      if (act) close(act === "ok");
    });
    dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); close(false); });
    document.body.append(dialog);
    dialog.showModal();
    /** @type {HTMLElement|null} */ (dialog.querySelector("[data-act=no]"))?.focus();
  });
}

/** Move focus to a view's heading after it changed, so screen readers follow. @param {HTMLElement} root */
export function focusHeading(root) {
  const h = /** @type {HTMLElement|null} */ (root.querySelector("h1, h2"));
  if (h) { h.tabIndex = -1; h.focus({ preventScroll: false }); }
}
