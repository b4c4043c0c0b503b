// @ts-check
// Batch planning for a program admin: plan every match not yet booked, watch it run, see
// the result and what it would change, and apply it after a confirmation that lists who
// gets invites.

import { api, programPath } from "./api.js";
import { ctx } from "./main.js";
import { el, dateTime, FREQUENCY, notice, confirmDialog, names, focusHeading, errorSummary } from "./ui.js";
import { ApiError } from "./api.js";

/** @param {HTMLElement} root */
export async function plan(root) {
  const pid = /** @type {string} */ (ctx.program);
  const home = await api("GET", `${programPath(pid)}/home?limit=200`);
  if (home.role !== "admin") throw new Error("Only a program admin plans the whole program.");
  /** @type {Record<string, any>} */
  const matches = Object.fromEntries(home.matches.map((/** @type {any} */ x) => [x.id, x]));
  const title = (/** @type {string} */ id) => {
    const x = matches[id];
    return x ? x.members.map((/** @type {any} */ m) => m.name).join(x.kind === "pair" ? " & " : ", ") : id;
  };
  const messages = el("div", { class: "messages" });
  const result = el("div", {});
  const bar = /** @type {HTMLProgressElement} */ (el("progress", { max: "1", value: "0", hidden: true, "aria-label": "Planning progress" }));
  const status = el("p", { role: "status" });
  const limit = /** @type {HTMLInputElement} */ (el("input", { id: "time-limit", type: "number", min: "1", max: "600", value: "30", inputmode: "numeric" }));
  const form = el("form", { class: "card", novalidate: true, onsubmit: async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    try {
      const job = await api("POST", `${programPath(pid)}/plans`, { time_limit: Number(limit.value) });
      bar.hidden = false;
      poll(job.job);
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) errorSummary(messages, e.errors, { time_limit: "time-limit" });
      else notice(messages, "error", "The plan could not start", e instanceof Error ? e.message : String(e));
    }
  } },
  el("p", {}, `${home.counts.not_booked} of ${home.counts.matches} matches are not booked yet. A plan finds series for all of them at once, so that nobody is double-booked and as many people as possible can come. Nothing is booked or sent until you apply it.`),
  el("label", { for: "time-limit" }, "Think for at most (seconds)"), limit,
  el("div", { class: "actions" }, el("button", { type: "submit", class: "button primary" }, "Start planning")));
  root.replaceChildren(el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, "Plan the program"), messages, form, bar, status, result);
  focusHeading(root);

  /** @param {string} jid */
  const poll = async (jid) => {
    const j = await api("GET", `/api/jobs/${encodeURIComponent(jid)}`);
    bar.value = j.progress;
    status.textContent = j.status === "queued" ? "Waiting to start…" : j.status === "running" ? `Planning… ${j.message || ""}` : "";
    if (j.status === "queued" || j.status === "running") { setTimeout(() => poll(jid), 700); return; }
    bar.hidden = true;
    if (j.status === "failed") { notice(messages, "error", "The plan failed", j.error || ""); return; }
    show(jid, j.plan);
  };

  /** @param {string} jid @param {any} p */
  const show = (jid, p) => {
    const sessions = p.series.reduce((/** @type {number} */ a, /** @type {any} */ s) => a + s.occurrences.length, 0);
    const everyone = p.series.reduce((/** @type {number} */ a, /** @type {any} */ s) => a + s.occurrences.filter((/** @type {any} */ o) => !o.missing.length).length, 0);
    const proven = p.status === "optimal" ? "This is proven to be the best possible." : `The best found in the time given (it could be at most ${p.bound.held} sessions).`;
    const people = new Set(p.series.flatMap((/** @type {any} */ s) => s.occurrences[0]?.attending.concat(s.occurrences[0]?.missing) || []));
    const rows = [
      ...p.series.map((/** @type {any} */ s) => el("tr", { "data-match": s.match },
        el("td", {}, title(s.match)), el("td", {}, dateTime(s.first_start)),
        el("td", {}, `${s.occurrences.length} × ${FREQUENCY[s.frequency] || s.frequency}`),
        el("td", {}, `${s.occurrences.filter((/** @type {any} */ o) => !o.missing.length).length} of ${s.occurrences.length}`))),
      ...p.unscheduled.map((/** @type {any} */ u) => el("tr", { "data-match": u.match, class: "short" },
        el("td", {}, title(u.match)), el("td", { colspan: "3" }, `Not planned: ${u.reason}`)))];
    result.replaceChildren(
      el("h2", {}, "The plan"),
      el("p", {}, `${p.series.length} matches get a series (${sessions} sessions; everyone can come to ${everyone}). ${p.unscheduled.length} cannot be planned. ${proven}`),
      el("p", { class: "hint" }, "Matches already booked are left as they are."),
      el("div", { class: "scroll" }, el("table", { class: "table" },
        el("thead", {}, el("tr", {}, ...["Match", "First session (your time)", "Repeats", "Everyone can come"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows))),
      p.series.length ? el("div", { class: "actions" }, el("button", { type: "button", class: "button primary", onclick: async () => {
        const r = await confirmDialog({ title: `Book ${p.series.length} series and send invites?`, confirm: "Book and send invites",
          body: [`${sessions} sessions are booked and ${people.size} people get invites:`,
            el("p", { class: "names" }, names([...people].map((m) => nameOfMember(m, matches)))), "This cannot be undone in one step: each series would need cancelling."] });
        if (!r.ok) return;
        try {
          const a = await api("POST", `${programPath(pid)}/plans/${encodeURIComponent(jid)}/apply`);
          // Drawn again from the server, so the counts say what is booked now.
          await plan(root);
          notice(/** @type {HTMLElement} */ (root.querySelector(".messages")), "success", `${a.booked} series booked`,
            "The invites are on their way.", el("p", {}, el("a", { href: "/", "data-link": "" }, "Back to the overview")));
        } catch (e) { notice(messages, "error", "Nothing was booked", e instanceof Error ? e.message : String(e)); }
      } }, "Book these and send invites…")) : "");
    focusHeading(result);
  };
  // A finished plan not yet booked is still there to look at and apply.
  const last = home.last_plan;
  if (last && !last.applied && last.planned) {
    const job = await api("GET", `/api/jobs/${encodeURIComponent(last.job)}`);
    if (job.status === "done" && !job.applied) show(last.job, job.plan);
  }
}

/** @param {string} mid @param {Record<string, any>} matches */
function nameOfMember(mid, matches) {
  for (const x of Object.values(matches)) for (const m of x.members) if (m.id === mid) return m.name;
  return mid;
}
