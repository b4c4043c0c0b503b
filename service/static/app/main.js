// @ts-check
// The web app: who is signed in, the header, and which view a path shows. Every view
// reads and writes through the JSON API with the same rules as scripts have.

import { api, setCsrf } from "./api.js";
import { el, viewerZone, setViewerZone, zoneIsValid, allZones, zoneCity } from "./ui.js";

/** @typedef {{role: string, program: string|null, member: string|null, name?: string|null,
 *   email?: string|null, csrf?: string|null, via?: string,
 *   identities?: {program: string, program_name?: string|null, role: string, member: string|null, name?: string|null}[]}} Me */

/** What every view gets: who is signed in, which program, and how to move on. */
export const ctx = {
  /** @type {Me|null} */ me: null,
  /** @type {string|null} */ program: null,
  /** @param {string} path */
  go(path) { history.pushState({}, "", path); render(); },
  /** Set by a view that re-draws itself when the viewer's zone changes. @type {null | (() => void)} */
  onZone: null,
  render: () => render(),
};

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));

/** @type {[RegExp, (m: RegExpMatchArray) => Promise<(root: HTMLElement) => Promise<void>|void>][]} */
const ROUTES = [
  [/^\/signin\/?$/, async () => (await import("./signin.js")).signin],
  [/^\/?$/, async () => (await import("./home.js")).home],
  [/^\/book\/([^/]+)\/?$/, async (m) => { const w = await import("./wizard.js"); return (root) => w.wizard(root, decodeURIComponent(m[1])); }],
  [/^\/matches\/([^/]+)\/?$/, async (m) => { const s = await import("./sessions.js"); return (root) => s.manage(root, decodeURIComponent(m[1])); }],
  [/^\/plan\/?$/, async () => (await import("./plan.js")).plan],
  [/^\/availability\/?$/, async () => (await import("./availability.js")).availability],
  [/^\/people\/?$/, async () => (await import("./people.js")).people],
];

async function loadMe() {
  const state = await api("GET", "/api/auth/session");
  ctx.me = state.signed_in ? state.me : null;
  setCsrf(ctx.me?.csrf ?? null);
  ctx.program = ctx.me?.program ?? ctx.me?.identities?.[0]?.program ?? null;
}

function header() {
  const me = ctx.me;
  if (!me) { nav.replaceChildren(); return; }
  const place = zoneCity(viewerZone());
  const zone = el("button", { type: "button", class: "link zone-button", "aria-haspopup": "dialog",
    title: viewerZone(), onclick: pickZone }, `Times in ${place}`);
  const ids = me.identities || [];
  let switcher = null;
  if (ids.length > 1) {
    const select = /** @type {HTMLSelectElement} */ (el("select", { id: "program-switch", onchange: async () => {
      const me2 = await api("PUT", "/api/auth/session/program", { program: select.value });
      ctx.me = me2; setCsrf(me2.csrf ?? null); ctx.program = me2.program; ctx.go("/");
    } }, ...ids.map((i) => el("option", { value: i.program, selected: i.program === ctx.program },
      `${i.program_name || i.program} (${roleName(i.role)})`))));
    switcher = el("label", { class: "inline" }, "Program ", select);
  }
  const out = me.via === "session"
    ? el("button", { type: "button", class: "link", onclick: signOut }, "Sign out") : null;
  nav.replaceChildren(...[
    el("span", { class: "who" }, me.name || me.email || roleName(me.role)),
    switcher, zone, out].filter((x) => x !== null));
}

/** @param {string} role */
export function roleName(role) {
  return { admin: "admin", facilitator: "facilitator", member: "member" }[role] || role;
}

async function signOut() {
  await api("DELETE", "/api/auth/session");
  ctx.me = null; setCsrf(null);
  ctx.go("/signin");
}

function pickZone() {
  document.getElementById("zone-dialog")?.remove();
  const input = /** @type {HTMLInputElement} */ (el("input", { id: "zone-input", list: "zone-list", value: viewerZone(), autocomplete: "off" }));
  const error = el("p", { class: "field-error", hidden: true, id: "zone-error" });
  const form = el("form", { novalidate: true },
    el("h2", { id: "zone-title" }, "Show times in"),
    el("label", { for: "zone-input" }, "Time zone (for example Europe/Lisbon)"), input,
    el("datalist", { id: "zone-list" }, ...allZones().map((z) => el("option", { value: z }))), error,
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "button primary" }, "Use this zone"),
      el("button", { type: "button", class: "button secondary", onclick: () => dialog.close() }, "Cancel")));
  const dialog = /** @type {HTMLDialogElement} */ (el("dialog", { class: "confirm", id: "zone-dialog", "aria-labelledby": "zone-title" }, form));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();  // Enter in the field submits too
    const zone = input.value.trim();
    if (!zoneIsValid(zone)) {
      error.hidden = false; error.textContent = `"${input.value}" is not a time zone`;
      input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", "zone-error");
      return;
    }
    setViewerZone(zone);
    dialog.close();
    header();
    // The view re-draws itself in the new zone if it can (the wizard keeps its choices).
    if (ctx.onZone) ctx.onZone(); else render();
  });
  dialog.addEventListener("close", () => dialog.remove());  // Escape and Cancel alike
  document.body.append(dialog);
  dialog.showModal();
  input.select();
}

async function render() {
  const path = location.pathname;
  try {
    const hit = ROUTES.find(([re]) => re.test(path));
    // Who is signed in and the view's module, fetched at the same time.
    const [, view] = await Promise.all([
      path !== "/signin" || !location.hash ? loadMe() : null,
      hit ? hit[1](/** @type {RegExpMatchArray} */ (path.match(hit[0]))) : null,
    ]);
    if (!ctx.me && path !== "/signin") { history.replaceState({}, "", "/signin"); return render(); }
    header();
    if (!hit || !view) { main.replaceChildren(el("h1", {}, "Page not found"), el("p", {}, el("a", { href: "/", "data-link": "" }, "Go to your home page"))); return; }
    main.replaceChildren(el("p", { class: "loading", role: "status" }, "Loading…"));
    ctx.onZone = null;
    await view(main);
  } catch (e) {
    main.replaceChildren(el("div", { class: "notice error", role: "alert" },
      el("p", { class: "notice-heading" }, "Something went wrong"),
      el("p", {}, e instanceof Error ? e.message : String(e)),
      el("p", {}, el("a", { href: "/", "data-link": "" }, "Back to your home page"))));
  }
}

document.addEventListener("click", (ev) => {
  const a = /** @type {HTMLElement} */ (ev.target).closest?.("a[data-link]");
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  ev.preventDefault();
  ctx.go(/** @type {HTMLAnchorElement} */ (a).getAttribute("href") || "/");
});
window.addEventListener("popstate", () => render());
render();
