// @ts-check
// Each person's home: a mentor's or mentee's matches and sessions, a facilitator's groups
// and what still needs booking, a program admin's overview.

import { api, programPath } from "./api.js";
import { ctx } from "./main.js";
import { el, dateTime, matchTitle, duration, FREQUENCY, focusHeading } from "./ui.js";

/** @param {HTMLElement} root */
export async function home(root) {
  const pid = ctx.program;
  if (!pid) {
    root.replaceChildren(el("h1", {}, "No program yet"),
      el("p", {}, "You are signed in, but no program lists you yet. Ask your program's admin to add you."));
    return;
  }
  const offset = Number(new URLSearchParams(location.search).get("from") || 0);
  const data = await api("GET", `${programPath(pid)}/home?offset=${offset}`);
  if (data.role === "admin") adminHome(root, data);
  else personHome(root, data);
  focusHeading(root);
}

/** @param {any} data */
function programName(data) { return data.program.name || data.program.id; }

/** @param {any} data */
function byId(data) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const x of data.matches) out[x.id] = x;
  return out;
}

/** @param {HTMLElement} root @param {any} data */
function personHome(root, data) {
  const me = ctx.me;
  const matches = byId(data);
  const first = (me?.name || "").split(" ")[0];
  const upcoming = data.upcoming.length
    ? el("ul", { class: "sessions" }, ...data.upcoming.map((/** @type {any} */ s) => el("li", {},
      el("span", { class: "when" }, dateTime(s.start)),
      el("span", {}, matches[s.match] ? `with ${matchTitle(matches[s.match], data.member)}` : ""),
      el("a", { href: `/matches/${encodeURIComponent(s.match)}`, "data-link": "" }, "Details"))))
    : el("p", { class: "muted" }, "Nothing booked yet.");
  const facilitator = data.role === "facilitator";
  const open = data.matches.filter((/** @type {any} */ x) => !x.series && x.can_book).length;
  root.replaceChildren(
    el("h1", {}, first ? `Hello, ${first}` : "Your sessions"),
    el("p", { class: "lead" }, programName(data),
      facilitator && open ? ` · ${open} of your ${data.matches.length} matches still need sessions booked` : ""),
    el("section", { "aria-labelledby": "next-h" }, el("h2", { id: "next-h" }, "Your next sessions"), upcoming),
    el("section", { "aria-labelledby": "matches-h" },
      el("h2", { id: "matches-h" }, facilitator ? "Your groups and pairs" : "Your matches"),
      el("ul", { class: "cards" }, ...data.matches.map((/** @type {any} */ x) => matchCard(x, data)))),
    el("section", { "aria-labelledby": "avail-h" }, el("h2", { id: "avail-h" }, "Your availability"),
      el("p", {}, "Your sessions are booked when you are free. ",
        el("a", { href: "/availability", "data-link": "" }, "See your availability and calendar link"))));
}

/** @param {any} x @param {any} data */
function matchCard(x, data) {
  const s = x.series;
  const who = x.kind === "pair" ? "1-on-1" : `Group of ${x.members.length}`;
  const plan = `${duration(x.duration_minutes)}, ${x.sessions > 1 ? `${x.sessions} sessions ${FREQUENCY[x.frequency] || x.frequency}` : "one session"}`;
  const organizer = x.members.find((/** @type {any} */ m) => m.id === x.organizer);
  const missing = el("p", { class: "missing-line" });
  if (s && data.role === "facilitator") void shortfall(data.program.id, s.id, x, missing);
  const status = s
    ? el("p", { class: "status booked" },
      el("strong", {}, `${s.done} of ${s.planned} done`),
      s.next ? ` · next ${dateTime(s.next.start)}` : " · no sessions left")
    : el("p", { class: "status open" }, x.can_book ? "No sessions booked yet"
      : `No sessions booked yet; ${organizer ? organizer.name : "the organizer"} books them`);
  const href = `/matches/${encodeURIComponent(x.id)}`;
  const book = `/book/${encodeURIComponent(x.id)}`;
  return el("li", { class: "card", "data-match": x.id },
    el("h3", {}, matchTitle(x, data.member)),
    el("p", { class: "muted" }, `${who} · ${plan}`),
    status,
    missing,
    el("div", { class: "actions" },
      !s && x.can_book ? el("a", { class: "button primary", href: book, "data-link": "" }, "Book sessions") : null,
      s ? el("a", { class: "button secondary", href, "data-link": "" }, x.can_book ? "Manage sessions" : "See sessions") : null));
}

/** @param {HTMLElement} root @param {any} data */
function adminHome(root, data) {
  const c = data.counts;
  const plan = data.last_plan;
  /** @type {Record<string, string>} */
  const why = Object.fromEntries((plan?.unscheduled || []).map((/** @type {any} */ u) => [u.match, u.reason]));
  const rows = data.matches.map((/** @type {any} */ x) => {
    const s = x.series;
    return el("tr", { "data-match": x.id },
      el("td", {}, el("a", { href: `/matches/${encodeURIComponent(x.id)}`, "data-link": "" }, matchTitle(x, null))),
      el("td", {}, x.kind === "pair" ? "1-on-1" : `group of ${x.members.length}`),
      el("td", {}, s ? `Booked: ${s.done} of ${s.planned} done${s.next ? `, next ${dateTime(s.next.start)}` : ""}`
        : why[x.id] ? el("span", {}, "Not booked; the last plan could not place it: ", el("span", { class: "missing" }, why[x.id])) : "Not booked yet"),
      el("td", {}, s ? el("a", { href: `/matches/${encodeURIComponent(x.id)}`, "data-link": "" }, "Manage")
        : el("a", { href: `/book/${encodeURIComponent(x.id)}`, "data-link": "" }, "Book")));
  });
  const next = data.offset + data.matches.length;
  const pager = el("p", { class: "pager" },
    data.offset > 0 ? el("a", { href: `/?from=${Math.max(0, data.offset - 50)}`, "data-link": "" }, "Previous") : null,
    ` Matches ${data.total ? data.offset + 1 : 0}–${next} of ${data.total} `,
    next < data.total ? el("a", { href: `/?from=${next}`, "data-link": "" }, "Next") : null);
  root.replaceChildren(
    el("h1", {}, programName(data)),
    el("ul", { class: "stats" },
      el("li", {}, el("strong", {}, String(c.matches)), " matches"),
      el("li", {}, el("strong", {}, String(c.booked)), " booked"),
      el("li", {}, el("strong", {}, String(c.not_booked)), " not booked yet")),
    el("p", {}, el("a", { class: "button primary", href: "/plan", "data-link": "" },
      c.not_booked ? `Plan the ${c.not_booked} matches not booked yet` : "Plan the program"), " ",
      el("a", { class: "button secondary", href: "/people", "data-link": "" }, "People and matches")),
    plan ? el("section", { class: "card", "aria-labelledby": "plan-h", "data-last-plan": plan.job },
      el("h2", { id: "plan-h" }, "The last plan"),
      el("p", {}, `Finished ${dateTime(plan.finished)}: ${plan.planned} matches planned, ${plan.applied ? "booked" : "not booked yet"}.`,
        plan.unplanned ? ` ${plan.unplanned} could not be planned:` : " Every match could be planned."),
      plan.unplanned ? el("ul", {}, ...plan.unscheduled.map((/** @type {any} */ u) => el("li", {},
        el("strong", {}, titleOf(data, u.match)), `: ${u.reason}`))) : "") : "",
    el("section", { "aria-labelledby": "all-h" }, el("h2", { id: "all-h" }, "Matches"),
      el("div", { class: "scroll" }, el("table", { class: "table" },
        el("thead", {}, el("tr", {}, ...["Match", "Kind", "Sessions", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows))), pager));
}

/** For a facilitator: the next sessions someone cannot come to, from availability now.
 * @param {string} pid @param {string} sid @param {any} x @param {HTMLElement} where */
async function shortfall(pid, sid, x, where) {
  const a = await api("GET", `${programPath(pid)}/series/${encodeURIComponent(sid)}/attendance`);
  /** @type {Record<string, string>} */
  const nameOf = Object.fromEntries(x.members.map((/** @type {any} */ m) => [m.id, m.name]));
  const short = a.sessions.filter((/** @type {any} */ o) => o.missing.length);
  if (!short.length) { where.textContent = "Everyone can come to every session ahead."; return; }
  where.classList.add("missing");
  where.textContent = short.slice(0, 2).map((/** @type {any} */ o) =>
    `${o.missing.map((/** @type {string} */ m) => nameOf[m] || m).join(", ")} cannot come on ${dateTime(o.start)}`).join("; ")
    + (short.length > 2 ? `; and ${short.length - 2} more` : "");
}

/** A match's title if it is on this page, else its id. @param {any} data @param {string} id */
function titleOf(data, id) {
  const x = data.matches.find((/** @type {any} */ m) => m.id === id);
  return x ? matchTitle(x, null) : id;
}
