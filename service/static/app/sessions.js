// @ts-check
// A match's booked sessions: what is coming, what was done, what was cancelled (the history
// is kept). Move one session with the same heat map as booking, cancel with a note that
// goes into the cancellation mail, mark a session done once it has started.

import { api, programPath } from "./api.js";
import { ctx } from "./main.js";
import {
  el, dateTime, longDate, time, duration, FREQUENCY, matchTitle, notice, confirmDialog, focusHeading,
  viewerZone, ymdIn, day, names, errorSummary,
} from "./ui.js";
import { ApiError } from "./api.js";
import { openCells } from "./heatmap.js";

/** @typedef {import("./heatmap.js").HeatCell} HeatCell */

const STATUS = /** @type {Record<string, string>} */ ({
  scheduled: "Upcoming", completed: "Done", cancelled: "Cancelled",
});
// A member's answer to the invite of a session (iTIP REPLY), as a small mark and a word.
const ANSWER = /** @type {Record<string, [string, string]>} */ ({
  ACCEPTED: ["✓", "accepted"], DECLINED: ["✗", "declined"], TENTATIVE: ["?", "maybe"],
});

/** @param {HTMLElement} root @param {string} xid */
export async function manage(root, xid) {
  const pid = /** @type {string} */ (ctx.program);
  const home = await api("GET", `${programPath(pid)}/home?match=${encodeURIComponent(xid)}`);
  const match = home.matches.find((/** @type {any} */ x) => x.id === xid);
  if (!match) throw new Error("This match is not in your program, or you may not see it.");
  const base = `${programPath(pid)}/matches/${encodeURIComponent(xid)}`;
  const messages = el("div", { class: "messages" });
  const list = el("div", {});
  const now = new Date(home.program.now).getTime();
  /** @type {Record<string, string>} */
  const nameOf = Object.fromEntries(match.members.map((/** @type {any} */ m) => [m.id, m.name]));
  root.replaceChildren(
    el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, matchTitle(match, home.member)),
    el("p", { class: "lead" }, names(match.members.map((/** @type {any} */ m) => m.name))),
    messages, list);

  /** @type {Record<string, any>} */
  const ahead = {};
  const load = async () => {
    const all = await api("GET", `${base}/series`);
    const live = all.filter((/** @type {any} */ s) => s.status === "scheduled");
    const past = all.filter((/** @type {any} */ s) => s.status !== "scheduled");
    // Who can come to each session ahead, from everyone's availability as it is now.
    for (const s of live) {
      const a = await api("GET", `${programPath(pid)}/series/${encodeURIComponent(s.id)}/attendance`);
      for (const o of a.sessions) ahead[o.id] = o;
    }
    list.replaceChildren(
      ...(live.length ? live.map(seriesBlock) : [el("p", {}, "No sessions booked.",
        match.can_book ? el("span", {}, " ", el("a", { class: "button primary", href: `/book/${encodeURIComponent(xid)}`, "data-link": "" }, "Book sessions")) : null)]),
      past.length ? el("details", { class: "history" }, el("summary", {}, `Cancelled series (${past.length})`), ...past.map(seriesBlock)) : "");
  };

  /** @param {any} s */
  const seriesBlock = (s) => {
    const n = s.sessions.length;
    const head = n === 1 ? `One session, ${duration(s.duration_minutes)}` : `${n} sessions ${FREQUENCY[s.frequency] || s.frequency}, ${duration(s.duration_minutes)} each`;
    const where = [s.conferencing.video_url ? el("a", { href: s.conferencing.video_url, rel: "noopener noreferrer" }, "Video link") : null,
      s.conferencing.location ? `Place: ${s.conferencing.location}` : null].filter(Boolean);
    const can = match.can_book && s.status === "scheduled";
    const rows = s.sessions.map((/** @type {any} */ o) => {
      const started = new Date(o.start).getTime() <= now;
      const moved = o.start !== o.original_start && o.status !== "cancelled";
      return el("tr", { "data-session": o.id },
        el("td", { class: "when" }, dateTime(o.start), moved ? el("span", { class: "hint" }, ` (moved from ${dateTime(o.original_start)})`) : null),
        el("td", { "data-label": "Status" }, o.status === "scheduled" && started ? "Started" : STATUS[o.status] || o.status),
        el("td", { "data-label": "Who can come" }, who(ahead[o.id], o)),
        el("td", { class: "replies", "data-label": "Replies" }, answered(o), declined(o, can && o.status === "scheduled" && !started)),
        // The cell stays a table cell (its border lines up with the row's); the buttons sit
        // side by side in a box of their own.
        el("td", { class: "buttons" }, el("div", { class: "row-actions" },
          can && o.status === "scheduled" && started ? el("button", { type: "button", class: "button small", onclick: () => complete(o) }, "Mark done") : null,
          can && o.status === "scheduled" && !started ? el("button", { type: "button", class: "button small secondary", onclick: () => move(s, o) }, "Move") : null,
          can && o.status === "scheduled" && !started ? el("button", { type: "button", class: "button small secondary", onclick: () => cancelOne(o) }, "Cancel") : null)));
    });
    return el("section", { class: "card", "data-series": s.id },
      el("h2", {}, head),
      el("p", {}, el("strong", {}, `${s.progress.completed} of ${s.progress.planned} done`),
        s.status === "cancelled" ? " · cancelled" : ""),
      where.length ? el("p", {}, ...where.flatMap((w, i) => i ? [" · ", w] : [w])) : null,
      s.agenda ? el("p", { class: "agenda" }, s.agenda) : null,
      // At phone width each session is a block of labelled lines (app.css ".stack").
      el("div", { class: "scroll" }, el("table", { class: "table stack" },
        el("thead", {}, el("tr", {}, ...["When (your time)", "Status", "Who can come", "Replies", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows))),
      el("p", { class: "actions" },
        el("a", { href: `${programPath(pid)}/series/${encodeURIComponent(s.id)}/invite.ics`, download: "sessions.ics" }, "Add to my calendar (.ics)"),
        can ? el("button", { type: "button", class: "button secondary danger-text", onclick: () => cancelSeries(s) }, "Cancel the remaining sessions") : null));
  };

  /** What a session ahead looks like for its people: who cannot come by their calendars,
   * and who declined its invite (a reply outweighs a free calendar). @param {any} a @param {any} o */
  const who = (a, o) => {
    if (!a) return "";
    const nameList = (/** @type {string[]} */ ids) => names(ids.map((m) => nameOf[m] || m));
    const declinedBy = (o.replies || []).filter((/** @type {any} */ r) => r.partstat === "DECLINED" && !a.missing.includes(r.member))
      .map((/** @type {any} */ r) => r.member);
    if (!a.missing.length && !declinedBy.length) return "everyone";
    const parts = [
      a.missing.length ? `${nameList(a.missing)} cannot come` : "",
      declinedBy.length ? `${nameList(declinedBy)} declined` : "",
    ].filter(Boolean);
    return el("span", {}, el("span", { class: "missing" }, parts.join(" · ")),
      a.missing.length && a.alternative ? el("span", { class: "alt" }, ` · a better time that week: ${dateTime(a.alternative)}`) : "");
  };

  /** Each member's answer to the session's invite: a mark per member who answered. @param {any} o */
  const answered = (o) => {
    const got = o.replies || [];
    if (!got.length) return el("span", { class: "muted" }, o.status === "scheduled" ? "No answers yet" : "");
    return el("ul", { class: "answers" }, ...got.map((/** @type {any} */ r) => {
      const [mark, word] = ANSWER[r.partstat] || ["", r.partstat.toLowerCase()];
      const name = nameOf[r.member] || r.member;
      return el("li", { class: `answer ${word}`, "data-member": r.member, "data-partstat": r.partstat, title: `${name} ${word}` },
        el("span", { class: "mark", "aria-hidden": "true" }, mark), ` ${name}`, el("span", { class: "sr-only" }, ` ${word}`));
    }));
  };

  /** A session declined alone: who, and the best time that week to move it to. @param {any} o @param {boolean} canMove */
  const declined = (o, canMove) => {
    const d = o.declined;
    if (!d) return "";
    const who = names(d.members.map((/** @type {string} */ m) => nameOf[m] || m));
    return el("p", { class: "decline-flag", "data-declined": o.id },
      el("span", { class: "missing" }, `${who} declined this session`),
      d.alternative ? el("span", { class: "alt" }, ` · the best time that week: ${dateTime(d.alternative)}`)
        : d.holds ? el("span", { class: "alt" }, " · it still goes ahead without them") : "",
      d.alternative && canMove ? el("span", {}, " ", el("button", { type: "button", class: "button small", onclick: () => moveTo(o, d.alternative) }, "Move there")) : "");
  };

  /** @param {any} o @param {string} iso */
  const moveTo = async (o, iso) => {
    const r = await confirmDialog({ title: "Move this session?", confirm: "Move and send updated invites",
      body: [`From ${dateTime(o.start)} to ${dateTime(iso)}.`, `${names(Object.values(nameOf))} get an updated invite.`] });
    if (!r.ok) return;
    await run(() => api("PATCH", `${programPath(pid)}/sessions/${encodeURIComponent(o.id)}`, { start: iso }),
      `The session is moved to ${dateTime(iso)}.`);
  };

  /** @param {() => Promise<any>} act @param {string} done */
  const run = async (act, done) => {
    try {
      await act();
      await load();
      notice(messages, "success", done);
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) errorSummary(messages, e.errors);
      else notice(messages, "error", "That did not work", e instanceof Error ? e.message : String(e));
    }
  };

  /** @param {any} o */
  const complete = (o) => run(() => api("POST", `${programPath(pid)}/sessions/${encodeURIComponent(o.id)}/complete`),
    `The session of ${dateTime(o.start)} is marked done.`);

  /** @param {any} o */
  const cancelOne = async (o) => {
    const r = await confirmDialog({ title: "Cancel this session?", danger: true, confirm: "Cancel the session",
      body: [`${longDate(o.start)} at ${time(o.start)}. ${names(Object.values(nameOf))} get a cancellation.`],
      note: "A note for the cancellation email (optional)" });
    if (!r.ok) return;
    /** @type {Record<string, string>} */
    const b = { status: "cancelled" };
    if (r.note) b.note = r.note;
    await run(() => api("PATCH", `${programPath(pid)}/sessions/${encodeURIComponent(o.id)}`, b), `The session of ${dateTime(o.start)} is cancelled.`);
  };

  /** @param {any} s */
  const cancelSeries = async (s) => {
    const left = s.sessions.filter((/** @type {any} */ o) => o.status === "scheduled" && new Date(o.start).getTime() > now).length;
    const r = await confirmDialog({ title: "Cancel the remaining sessions?", danger: true, confirm: `Cancel ${left} sessions`,
      body: [`${left} upcoming sessions are cancelled and ${names(Object.values(nameOf))} get a cancellation. Sessions already done stay in the history.`],
      note: "A note for the cancellation email (optional)" });
    if (!r.ok) return;
    await run(() => api("POST", `${programPath(pid)}/series/${encodeURIComponent(s.id)}/cancel`, r.note ? { note: r.note } : {}),
      "The remaining sessions are cancelled.");
  };

  /** @param {any} s @param {any} o */
  const move = async (s, o) => {
    const zone = viewerZone();
    // The week (Monday first) of the session, in the viewer's zone.
    const d = new Date(ymdIn(o.start, zone) + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    const from = d.toISOString().slice(0, 10);
    // The session being moved does not make its own people busy.
    const q = new URLSearchParams({ duration: String(s.duration_minutes), tz: zone, from, weeks: "1", ignore_session: o.id });
    const heat = await api("GET", `${base}/heatmap?${q}`);
    const t0 = new Date(heat.start).getTime(), g = heat.granularity_minutes * 60000, n = heat.members.length;
    const panel = el("section", { class: "card move", "aria-labelledby": "move-h" },
      el("h2", { id: "move-h" }, `Move the session of ${dateTime(o.start)}`),
      el("p", { class: "hint" }, `Times that week in ${zone.replaceAll("_", " ")}; ● everyone can come.`));
    // The week's best times first (the most people can come); every time on request.
    const here = new Date(o.start).getTime();
    // Where it is now is not a move.
    /** @param {number} di */
    const openOn = (di) => openCells(heat, di).filter((c) => t0 + c.slot * g !== here);
    /** @type {HeatCell[]} */
    const open = heat.view.dates.flatMap((/** @type {string} */ _, /** @type {number} */ di) => openOn(di));
    const top = Math.max(0, ...open.map((c) => c.count));
    const every = el("button", { type: "button", class: "link", onclick: () => { showAll = true; draw(); } },
      `Show every time that week (${open.length})`);
    let showAll = false;
    const week = el("div", { class: "move-week" });
    const draw = () => week.replaceChildren(...heat.view.dates.map((/** @type {string} */ ymd, /** @type {number} */ di) => {
      const times = openOn(di).filter((c) => showAll || c.count === top);
      return el("div", { class: "move-day" }, el("h3", {}, day(ymd)),
        times.length ? el("ul", {}, ...times.map((c) => {
          const iso = new Date(t0 + c.slot * g).toISOString();
          return el("li", {}, el("button", { type: "button", class: `time${c.count === n ? " all" : ""}`, "data-start": iso, onclick: async () => {
            const r = await confirmDialog({ title: "Move this session?", confirm: "Move and send updated invites",
              body: [`From ${dateTime(o.start)} to ${dateTime(iso)}.`,
                c.count === n ? "Everyone can come then." : `${n - c.count} of ${n} cannot come then.`,
                `${names(Object.values(nameOf))} get an updated invite.`] });
            if (!r.ok) return;
            panel.remove();
            await run(() => api("PATCH", `${programPath(pid)}/sessions/${encodeURIComponent(o.id)}`, { start: iso }),
              `The session is moved to ${dateTime(iso)}.`);
          } }, el("span", {}, time(iso)), el("span", { class: "count" }, c.count === n ? "● everyone" : `${c.count} of ${n}`)));
        })) : el("p", { class: "muted" }, "—"));
    }), showAll || open.length === open.filter((c) => c.count === top).length ? "" : every);
    draw();
    panel.append(week,
      el("button", { type: "button", class: "button secondary", onclick: () => panel.remove() }, "Keep the session where it is"));
    list.querySelector(".move")?.remove();
    list.prepend(panel);
    focusHeading(panel);
  };

  await load();
}
