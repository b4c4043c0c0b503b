// @ts-check
// The member's CalDAV write-back, on their availability page: connect a calendar that
// slotwise writes their booked sessions into, see how the writes go, disconnect. Through
// the same API as a script (PUT/GET/DELETE …/members/{mid}/writeback); the password is
// sent once and never shown again.

import { api, ApiError } from "./api.js";
import { el, notice, errorSummary, dateTime } from "./ui.js";

const FIELDS = { url: "wb-url", user: "wb-user", password: "wb-password" };
const STATUS = {
  disconnected: "",
  ok: "Connected: your sessions are written into this calendar.",
  gone: "This calendar no longer exists: nothing is written. Connect it again (or another one) to resume.",
  unauthorised: "The server refused the password (was it revoked?): nothing is written. Connect again with a new app password to resume.",
};

/** The section, drawn at once and filled in when the connection is read.
 * @param {string} memberPath the member's API path @returns {HTMLElement} */
export function writebackSection(memberPath) {
  const path = `${memberPath}/writeback`;
  const msg = el("div", { class: "messages" });
  const state = el("div", {});
  const input = (/** @type {string} */ id, /** @type {Record<string, any>} */ attrs) =>
    /** @type {HTMLInputElement} */ (el("input", { id, "aria-describedby": `${id}-hint`, "data-hint": `${id}-hint`, ...attrs }));
  const url = input("wb-url", { type: "url", autocomplete: "off", spellcheck: "false" });
  const user = input("wb-user", { autocomplete: "username", spellcheck: "false" });
  const password = input("wb-password", { type: "password", autocomplete: "new-password" });

  // Connected and working: the status and its actions only; the form comes back with
  // "Change calendar or password" (and by itself when the calendar stopped working).
  const change = () => { form.hidden = false; url.focus(); };
  /** @param {any} link */
  const show = (link) => {
    if (!link || link.status === "disconnected") { state.replaceChildren(); form.hidden = false; return; }
    form.hidden = link.status === "ok";
    const when = link.last_write ? dateTime(link.last_write) : "not yet";
    state.replaceChildren(el("div", { class: `notice ${link.status === "ok" ? "info" : "error"}` },
      el("p", { class: "notice-heading" }, STATUS[/** @type {keyof typeof STATUS} */ (link.status)] || link.status),
      el("p", {}, `${link.url} (as ${link.user}). Last written: ${when}.` +
        (link.pending ? ` ${link.pending} waiting to be written.` : "")),
      ...(link.last_error ? [el("p", {}, `Last problem: ${link.last_error}`)] : []),
      el("div", { class: "actions" },
        ...(link.status === "ok" ? [el("button", { type: "button", class: "button small secondary", onclick: change },
          "Change calendar or password")] : []),
        el("button", { type: "button", class: "button small secondary", onclick: disconnect }, "Disconnect"))));
    url.value ||= link.url;
    user.value ||= link.user;
  };
  const disconnect = async () => {
    try {
      await api("DELETE", path);
      show(null);
      notice(msg, "success", "Disconnected", "Nothing more is written. The sessions already in your calendar stay there.");
    } catch (e) { problem(e, "Not disconnected"); }
  };
  /** @param {unknown} e @param {string} heading */
  const problem = (e, heading) => {
    if (e instanceof ApiError && e.status === 422 && e.errors.length) {
      // The API words a message "url: …"; next to the field its name is not needed.
      errorSummary(msg, e.errors.map((x) => ({ field: x.field,
        message: x.field && x.message.startsWith(`${x.field}: `) ? x.message.slice(x.field.length + 2) : x.message })), FIELDS);
    } else notice(msg, "error", heading, e instanceof Error ? e.message : String(e));
  };
  const connect = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const missing = [
      ...(url.value.trim() ? [] : [{ field: "url", message: "Enter the address of your calendar (it starts with https://)" }]),
      ...(user.value.trim() ? [] : [{ field: "user", message: "Enter your user name at the calendar server" }]),
      ...(password.value ? [] : [{ field: "password", message: "Enter an app password made for slotwise" }]),
    ];
    if (missing.length) { errorSummary(msg, missing, FIELDS); return; }
    try {
      const link = await api("PUT", path, { url: url.value.trim(), user: user.value.trim(), password: password.value });
      password.value = "";
      for (const box of [url, user, password]) {
        document.getElementById(`${box.id}-error`)?.remove();
        box.removeAttribute("aria-invalid");
        box.setAttribute("aria-describedby", `${box.id}-hint`);
      }
      show(link);
      notice(msg, "success", "Calendar connected", "Your booked sessions will appear in it within a minute, and follow every change.");
    } catch (e) { problem(e, "Calendar not connected"); }
  };
  api("GET", path).then(show, (e) => problem(e, "Could not read the connection"));

  const field = (/** @type {HTMLInputElement} */ box, /** @type {string} */ label, /** @type {string} */ hint) =>
    el("div", { class: "field" }, el("label", { for: box.id }, label), el("p", { class: "hint", id: `${box.id}-hint` }, hint), box);
  const form = el("form", { novalidate: true, onsubmit: connect },
    field(url, "Calendar address (CalDAV)", "The calendar's own address, e.g. https://cloud.example.org/remote.php/dav/calendars/you/personal/"),
    field(user, "User name", "Your user name at that server."),
    field(password, "App password", "Make an app-specific password for slotwise at your provider. slotwise stores it to write your sessions and never shows it again; revoke it there to stop the writes."),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "button secondary" }, "Connect calendar")));
  return el("section", { class: "card av-card wb-card", "aria-labelledby": "wb-h" },
    el("h2", { id: "wb-h" }, "Write your sessions into your calendar"),
    el("p", {}, "With a CalDAV calendar (Nextcloud, Fastmail, iCloud and others), slotwise writes each series you are booked in straight into it and keeps it up to date. Your own alarms on those events are kept."),
    msg, state, form);
}
