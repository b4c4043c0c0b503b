// @ts-check
// A program admin's people and matches: the members a page at a time with a search, add
// or edit a person, every match with "Add a match", and an import of an availability CSV
// or a program document that is all or nothing, each bad row shown where it is.

import { api, programPath, ApiError } from "./api.js";
import { ctx } from "./main.js";
import { el, allZones, duration, FREQUENCY, matchTitle, notice, errorSummary, focusHeading } from "./ui.js";

const PAGE = 25;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/;
const DAYS = /** @type {Record<string, string>} */ ({ MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" });
const CSV_EXAMPLE = "member,day,start,end,type\nana,TU,14:00,18:30,available\nana,2027-02-03,09:00,12:00,available\nana,,2027-02-15T00:00,2027-02-20T00:00,unavailable";

/** @typedef {{id: string, name: string|null, email: string|null, timezone: string|null, matches: number,
 *   weekly: {days: string[], start: string, end: string}[], calendars: number}} Row */

/** A readable member id from a name or an address: "Jörg Müller" → "jorg-muller". @param {string} text */
export function slug(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/@.*$/, "").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
}

/** @param {HTMLElement} root */
export async function people(root) {
  const pid = ctx.program;
  if (!pid || ctx.me?.role !== "admin") {
    root.replaceChildren(el("h1", {}, "People and matches"),
      el("p", {}, "Only a program admin adds people and matches. To change your own details or weekly free time, go to ",
        el("a", { href: "/availability", "data-link": "" }, "your availability"), "."),
      el("p", {}, el("a", { href: "/", "data-link": "" }, "Back to your home page")));
    focusHeading(root);
    return;
  }
  const base = programPath(pid);
  const messages = el("div", { class: "messages" });
  /** @type {{offset: number, q: string, matchOffset: number, zone: string, names: Record<string, string>}} */
  const state = { offset: 0, q: "", matchOffset: 0, zone: "", names: {} };

  // --- people ---------------------------------------------------------------------------
  const peopleBody = el("tbody", {});
  const peoplePager = el("p", { class: "pager" });
  const memberSlot = el("div", {});
  const search = /** @type {HTMLInputElement} */ (el("input", { id: "people-q", type: "search", autocomplete: "off" }));
  const zones = el("datalist", { id: "zone-options" }, ...allZones().map((z) => el("option", { value: z })));
  const memberOptions = el("datalist", { id: "member-options" });

  const loadPeople = async () => {
    const q = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE) });
    if (state.q) q.set("q", state.q);
    const page = await api("GET", `${base}/members?${q}`);
    state.zone = page.program.timezone;
    peopleBody.replaceChildren(...(page.members.length ? page.members.map((/** @type {Row} */ m) => {
      state.names[m.id] = m.name || m.id;
      return el("tr", { "data-member": m.id },
        el("td", {}, el("strong", {}, m.name || m.id), el("br", {}), el("span", { class: "hint" }, m.id)),
        el("td", { class: "wrap", "data-label": "Email" }, m.email || el("span", { class: "muted" }, "—")),
        el("td", { "data-label": "Time zone" }, m.timezone ? m.timezone.replaceAll("_", " ") : el("span", { class: "muted" }, `${state.zone.replaceAll("_", " ")} (the program's)`)),
        el("td", { "data-label": "Weekly free time" }, weekly(m)),
        el("td", { class: "num", "data-label": "Matches" }, String(m.matches)),
        el("td", {}, el("button", { type: "button", class: "button small secondary", "aria-label": `Edit ${m.name || m.id}`,
          onclick: () => memberForm(m.id) }, "Edit")));
    }) : [el("tr", {}, el("td", { colspan: "6" }, state.q ? `Nobody matches "${state.q}".` : "Nobody yet."))]));
    const last = page.offset + page.members.length;
    peoplePager.replaceChildren(
      page.offset > 0 ? el("button", { type: "button", class: "link", onclick: () => { state.offset = Math.max(0, state.offset - PAGE); loadPeople(); } }, "Previous") : "",
      el("span", {}, `People ${page.total ? page.offset + 1 : 0}–${last} of ${page.total}`),
      last < page.total ? el("button", { type: "button", class: "link", onclick: () => { state.offset = last; loadPeople(); } }, "Next") : "");
  };

  /** @param {Row} m */
  const weekly = (m) => {
    if (!m.weekly.length) return el("span", { class: "muted" }, m.calendars ? `${m.calendars} calendar(s)` : "Not given");
    const parts = m.weekly.slice(0, 3).map((w) => `${w.days.map((d) => DAYS[d] || d).join(", ")} ${w.start}–${w.end}`);
    return `${parts.join("; ")}${m.weekly.length > 3 ? ` and ${m.weekly.length - 3} more` : ""}`;
  };

  /** The add or edit form of a person. @param {string|null} mid null: a new person */
  const memberForm = async (mid) => {
    /** @type {Record<string, any>} */
    const current = mid ? await api("GET", `${base}/members/${encodeURIComponent(mid)}`) : {};
    const input = (/** @type {string} */ id, /** @type {Record<string, any>} */ attrs = {}) =>
      /** @type {HTMLInputElement} */ (el("input", { id, autocomplete: "off", ...attrs }));
    const name = input("m-name", { value: current.name || "", autocomplete: "off" });
    const email = input("m-email", { type: "email", value: current.email || "", spellcheck: "false" });
    const zone = input("m-timezone", { list: "zone-options", value: current.timezone || "", spellcheck: "false" });
    const id = input("m-id", { value: mid || "", spellcheck: "false", "aria-describedby": "m-id-hint" });
    let idTouched = Boolean(mid);
    const suggest = () => { if (!idTouched) id.value = slug(name.value) || slug(email.value); };
    name.addEventListener("input", suggest);
    email.addEventListener("input", suggest);
    id.addEventListener("input", () => { idTouched = true; });
    const title = mid ? `Edit ${current.name || mid}` : "Add a person";
    const form = el("form", { class: "card narrow", id: "member-form", novalidate: true, "aria-labelledby": "member-form-h",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        /** @type {{field: string, message: string}[]} */
        const problems = [];
        if (!name.value.trim()) problems.push({ field: "name", message: "Enter the person's name" });
        if (!mid && !ID.test(id.value.trim())) problems.push({ field: "id", message: "Enter an id of letters and digits (also . _ - @ +), starting with a letter or digit" });
        const fields = { name: "m-name", email: "m-email", timezone: "m-timezone", id: "m-id" };
        if (problems.length) { errorSummary(messages, problems, fields); return; }
        const key = mid || id.value.trim();
        try {
          if (!mid) {
            const same = await api("GET", `${base}/members?${new URLSearchParams({ q: key, limit: "200" })}`);
            const taken = same.members.find((/** @type {Row} */ r) => r.id === key);
            if (taken) { errorSummary(messages, [{ field: "id", message: `The id "${key}" is already ${taken.name || "someone"}'s: choose another` }], fields); return; }
          }
          /** @type {Record<string, any>} */
          const body = { ...current, id: key, name: name.value.trim() };
          for (const [k, v] of [["email", email.value.trim()], ["timezone", zone.value.trim()]]) {
            if (v) body[k] = v; else delete body[k];
          }
          await api("PUT", `${base}/members/${encodeURIComponent(key)}`, body);
          memberSlot.replaceChildren();
          await loadPeople();
          notice(messages, "success", mid ? `${body.name}'s details are saved` : `${body.name} is added`,
            ...(mid ? [] : [`They can sign in with ${body.email || "their address once you add one"} and set their weekly free time.`]));
        } catch (e) { showError(e, fields); }
      } },
    el("h2", { id: "member-form-h" }, title),
    el("label", { for: "m-name" }, "Name"), name,
    el("label", { for: "m-email" }, "Email address"), email,
    el("p", { class: "hint", id: "m-email-hint" }, "Invites and sign-in links go here."),
    el("label", { for: "m-timezone" }, "Time zone (for example Europe/Berlin)"), zone,
    el("p", { class: "hint" }, `Leave it empty to use the program's zone, ${state.zone.replaceAll("_", " ")}.`),
    mid ? el("p", {}, el("strong", {}, "Id: "), mid) : el("div", {},
      el("label", { for: "m-id" }, "Id"), id,
      el("p", { class: "hint", id: "m-id-hint" }, "How CSV files and matches name this person. Made from the name; change it if you like.")),
    mid ? el("p", { class: "hint" }, "Their weekly free time and calendars stay as they are: they change those on their availability page.") : null,
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "button primary" }, mid ? "Save changes" : "Add the person"),
      el("button", { type: "button", class: "button secondary", onclick: () => memberSlot.replaceChildren() }, "Cancel")));
    memberSlot.replaceChildren(form);
    name.focus();
  };

  // --- matches --------------------------------------------------------------------------
  const matchBody = el("tbody", {});
  const matchPager = el("p", { class: "pager" });
  const matchSlot = el("div", {});

  const loadMatches = async () => {
    const home = await api("GET", `${base}/home?offset=${state.matchOffset}&limit=${PAGE}`);
    matchBody.replaceChildren(...(home.matches.length ? home.matches.map((/** @type {any} */ x) => {
      const org = x.members.find((/** @type {any} */ m) => m.id === x.organizer);
      return el("tr", { "data-match": x.id },
        el("td", {}, el("a", { href: `/matches/${encodeURIComponent(x.id)}`, "data-link": "" }, matchTitle(x, null))),
        el("td", { "data-label": "Kind" }, x.kind === "pair" ? "1-on-1" : `Group of ${x.members.length}`),
        el("td", { "data-label": "Organizer" }, org ? org.name : el("span", { class: "muted" }, "—")),
        el("td", { "data-label": "Sessions" }, `${duration(x.duration_minutes)}, ${x.sessions > 1 ? `${x.sessions} sessions ${FREQUENCY[x.frequency] || x.frequency}` : "one session"}`));
    }) : [el("tr", {}, el("td", { colspan: "4" }, "No matches yet."))]));
    const last = home.offset + home.matches.length;
    matchPager.replaceChildren(
      home.offset > 0 ? el("button", { type: "button", class: "link", onclick: () => { state.matchOffset = Math.max(0, state.matchOffset - PAGE); loadMatches(); } }, "Previous") : "",
      el("span", {}, `Matches ${home.total ? home.offset + 1 : 0}–${last} of ${home.total}`),
      last < home.total ? el("button", { type: "button", class: "link", onclick: () => { state.matchOffset = last; loadMatches(); } }, "Next") : "");
  };

  /** Fill the member picker's suggestions with those whose id, name or email holds ``q``. @param {string} q */
  const suggestMembers = async (q) => {
    const page = await api("GET", `${base}/members?${new URLSearchParams({ q, limit: "50" })}`);
    memberOptions.replaceChildren(...page.members.map((/** @type {Row} */ m) => {
      state.names[m.id] = m.name || m.id;
      return el("option", { value: m.id }, `${m.name || m.id}${m.email ? ` <${m.email}>` : ""}`);
    }));
  };

  const matchForm = () => {
    const pickers = el("div", { class: "pickers" });
    const organizer = /** @type {HTMLSelectElement} */ (el("select", { id: "x-organizer" }));
    const xid = /** @type {HTMLInputElement} */ (el("input", { id: "x-id", autocomplete: "off", spellcheck: "false" }));
    let xidTouched = false;
    xid.addEventListener("input", () => { xidTouched = true; });
    const chosen = () => [...pickers.querySelectorAll("input")].map((i) => /** @type {HTMLInputElement} */ (i).value.trim()).filter(Boolean);
    const refresh = () => {
      const ids = chosen();
      const keep = organizer.value;
      organizer.replaceChildren(el("option", { value: "" }, "Nobody in particular"),
        ...ids.map((m) => el("option", { value: m, selected: m === keep }, state.names[m] || m)));
      if (!xidTouched) xid.value = ids.map(slug).filter(Boolean).join("-").slice(0, 120);
    };
    let timer = 0;
    const addPicker = () => {
      const n = pickers.children.length;
      const input = /** @type {HTMLInputElement} */ (el("input", { id: `x-member-${n}`, list: "member-options", autocomplete: "off", spellcheck: "false",
        oninput: () => { refresh(); clearTimeout(timer); timer = window.setTimeout(() => suggestMembers(input.value.trim()), 250); } }));
      pickers.append(el("div", {}, el("label", { for: input.id }, `Person ${n + 1}`), input));
      return input;
    };
    addPicker(); addPicker();
    suggestMembers("");
    const radio = (/** @type {number} */ min) => el("label", { class: "radio" },
      el("input", { type: "radio", name: "x-duration", value: String(min), checked: min === 60, id: `x-duration-${min}` }), duration(min));
    const frequency = /** @type {HTMLSelectElement} */ (el("select", { id: "x-frequency" },
      ...Object.entries(FREQUENCY).map(([k, v]) => el("option", { value: k }, v))));
    const sessions = /** @type {HTMLInputElement} */ (el("input", { id: "x-sessions", type: "number", min: "1", max: "520", value: "4", inputmode: "numeric" }));
    const video = /** @type {HTMLInputElement} */ (el("input", { id: "x-video", type: "url", spellcheck: "false" }));
    const place = /** @type {HTMLInputElement} */ (el("input", { id: "x-location" }));
    const agenda = /** @type {HTMLTextAreaElement} */ (el("textarea", { id: "x-agenda", rows: "3" }));
    const fields = /** @type {Record<string, string>} */ ({ id: "x-id", organizer: "x-organizer", duration_minutes: "x-duration-60",
      frequency: "x-frequency", sessions: "x-sessions", "conferencing.video_url": "x-video", "conferencing.location": "x-location",
      agenda: "x-agenda", members: "x-member-0" });
    const form = el("form", { class: "card", id: "match-form", novalidate: true, "aria-labelledby": "match-form-h",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const ids = chosen();
        pickers.querySelectorAll("input").forEach((i, n) => { fields[`members[${n}]`] = i.id; });
        /** @type {{field: string, message: string}[]} */
        const problems = [];
        if (ids.length < 2) problems.push({ field: "members", message: "Choose at least two people" });
        if (!ID.test(xid.value.trim())) problems.push({ field: "id", message: "Enter an id for the match (letters, digits, . _ - @ +)" });
        if (problems.length) { errorSummary(messages, problems, fields); return; }
        /** @type {Record<string, any>} */
        const body = { id: xid.value.trim(), members: ids, frequency: frequency.value, sessions: Number(sessions.value),
          duration_minutes: Number(/** @type {HTMLInputElement|null} */ (form.querySelector("input[name=x-duration]:checked"))?.value || 60) };
        if (organizer.value) body.organizer = organizer.value;
        const conferencing = { ...(video.value.trim() ? { video_url: video.value.trim() } : {}), ...(place.value.trim() ? { location: place.value.trim() } : {}) };
        if (Object.keys(conferencing).length) body.conferencing = conferencing;
        if (agenda.value.trim()) body.agenda = agenda.value.trim();
        try {
          await api("POST", `${base}/matches`, body);
          matchSlot.replaceChildren();
          await Promise.all([loadMatches(), loadPeople()]);
          notice(messages, "success", `The match ${ids.map((m) => state.names[m] || m).join(" & ")} is added`,
            el("p", {}, "Book its sessions from ", el("a", { href: `/book/${encodeURIComponent(body.id)}`, "data-link": "" }, "the booking page"), " or plan the program."));
        } catch (e) { showError(e, fields); }
      } },
    el("h2", { id: "match-form-h" }, "Add a match"),
    el("fieldset", {}, el("legend", {}, "Who meets"), el("p", { class: "hint" }, "Type a name, an email or an id and pick the person."), pickers,
      el("button", { type: "button", class: "button small secondary", onclick: () => addPicker().focus() }, "Add another person")),
    el("label", { for: "x-organizer" }, "Organizer (books the sessions of a group)"), organizer,
    el("fieldset", {}, el("legend", {}, "How long is a session?"), el("div", { class: "days-pick" }, radio(30), radio(45), radio(60))),
    el("label", { for: "x-frequency" }, "How often"), frequency,
    el("label", { for: "x-sessions" }, "How many sessions"), sessions,
    el("label", { for: "x-video" }, "Video link (optional)"), video,
    el("label", { for: "x-location" }, "Place (optional)"), place,
    el("label", { for: "x-agenda" }, "Agenda (optional)"), agenda,
    el("label", { for: "x-id" }, "Id of the match"), xid,
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "button primary" }, "Add the match"),
      el("button", { type: "button", class: "button secondary", onclick: () => matchSlot.replaceChildren() }, "Cancel")));
    refresh();
    matchSlot.replaceChildren(form);
    focusHeading(form);
  };

  // --- import ---------------------------------------------------------------------------
  const file = /** @type {HTMLInputElement} */ (el("input", { id: "import-file", type: "file", accept: ".csv,.json,text/csv,application/json" }));
  const pasted = /** @type {HTMLTextAreaElement} */ (el("textarea", { id: "import-text", rows: "6", spellcheck: "false", class: "mono" }));
  const problemsSlot = el("div", {});
  const importForm = el("form", { class: "card", id: "import-form", novalidate: true, "aria-labelledby": "import-h",
    onsubmit: async (/** @type {Event} */ ev) => {
      ev.preventDefault();
      problemsSlot.replaceChildren();
      for (const f of [file, pasted]) { f.removeAttribute("aria-invalid"); f.removeAttribute("aria-describedby"); }
      const chosenFile = file.files && file.files[0];
      const text = chosenFile ? await chosenFile.text() : pasted.value;
      const where = chosenFile ? "import-file" : "import-text";
      if (!text.trim()) { errorSummary(messages, [{ field: "file", message: "Choose a file or paste its text" }], { file: "import-file" }); return; }
      const json = chosenFile ? /\.json$/i.test(chosenFile.name) || chosenFile.type.includes("json") : /^\s*[{[]/.test(text);
      /** @type {any} */
      let doc = null;
      if (json) {
        try { doc = JSON.parse(text); } catch (e) {
          errorSummary(messages, [{ field: "file", message: `This is not a readable program document: ${e instanceof Error ? e.message : e}` }], { file: where });
          return;
        }
      }
      try {
        const r = json ? await api("POST", `${base}/import`, doc) : await api("POST", `${base}/import`, text, "text/csv; charset=utf-8");
        file.value = ""; pasted.value = "";
        state.offset = 0; state.matchOffset = 0;
        await Promise.all([loadPeople(), loadMatches()]);
        notice(messages, "success", "Imported", ...imported(r));
      } catch (e) {
        if (e instanceof ApiError && e.status === 422 && e.errors.length) showProblems(e.errors, json ? doc : text, where);
        else showError(e, {});
      }
    } },
  el("h2", { id: "import-h" }, "Import people or availability"),
  el("p", {}, "An availability CSV gives each person it names their weekly free time and time away (their rows replace what they had). A program document (.json) adds its people and matches, or replaces those with the same id. Nothing is imported unless the whole file is right."),
  el("details", {}, el("summary", {}, "What an availability CSV looks like"),
    el("pre", { class: "example" }, CSV_EXAMPLE),
    el("p", { class: "hint" }, "day is MO to SU for every week, a date for one day, or empty with full date-times; times are the person's own.")),
  el("label", { for: "import-file" }, "File (.csv or .json)"), file,
  el("label", { for: "import-text" }, "Or paste its text"), pasted, problemsSlot,
  el("div", { class: "actions" }, el("button", { type: "submit", class: "button primary" }, "Import")));

  /** @param {any} r */
  const imported = (r) => {
    const out = [];
    const who = (/** @type {string[]} */ ids) => ids.map((m) => state.names[m] || m).join(", ");
    if (r.members_added.length) out.push(`Added ${r.members_added.length} ${r.members_added.length === 1 ? "person" : "people"}: ${who(r.members_added)}.`);
    if (r.members_replaced.length) out.push(r.kind === "csv"
      ? `New availability for ${who(r.members_replaced)}.` : `Replaced ${who(r.members_replaced)}.`);
    if (r.matches_added.length) out.push(`Added ${r.matches_added.length} ${r.matches_added.length === 1 ? "match" : "matches"}.`);
    if (r.matches_replaced.length) out.push(`Replaced ${r.matches_replaced.length} ${r.matches_replaced.length === 1 ? "match" : "matches"}.`);
    const same = r.members_unchanged + r.matches_unchanged;
    if (same) out.push(`${same} already as in the file.`);
    return out.length ? out : ["The file changed nothing."];
  };

  /**
   * Each problem of a refused import: a summary at the top linking to its row, and the
   * rows themselves with their text and message.
   * @param {{field: string, message: string, line?: number}[]} errors @param {any} sent @param {string} where
   */
  const showProblems = (errors, sent, where) => {
    /** @type {Map<string, {label: string, text: string, messages: string[]}>} */
    const rows = new Map();
    const lines = typeof sent === "string" ? sent.split(/\r\n|\r|\n/) : [];
    for (const e of errors) {
      let key = "file", label = "The file", text = "", msg = e.message;
      if (e.line !== undefined) {
        key = `line-${e.line}`; label = `Line ${e.line}`; text = lines[e.line - 1] ?? "";
        msg = `${e.field}: ${e.message}`;
      } else {
        const hit = /^(members|matches)\[(\d+)\]\.?(.*)$/.exec(e.field);
        if (hit && typeof sent === "object") {
          const obj = sent?.[hit[1]]?.[Number(hit[2])];
          key = `${hit[1]}-${hit[2]}`;
          label = `${hit[1] === "members" ? "Person" : "Match"} ${Number(hit[2]) + 1}${obj && obj.id ? ` (${obj.id})` : ""}`;
          text = obj && typeof obj === "object" ? [obj.name, obj.email].filter(Boolean).join(", ") || (Array.isArray(obj.members) ? obj.members.join(", ") : "") : "";
          msg = hit[3] ? `${hit[3]}: ${e.message}` : e.message;
        } else if (e.field) msg = `${e.field}: ${e.message}`;
      }
      const row = rows.get(key) || { label, text, messages: [] };
      row.messages.push(msg);
      rows.set(key, row);
    }
    const items = [...rows.entries()].flatMap(([key, r]) => r.messages.map((m) =>
      el("li", {}, el("a", { href: `#import-${key}` }, `${r.label}: ${m}`))));
    const box = el("div", { class: "notice error", role: "alert", tabindex: "-1" },
      el("p", { class: "notice-heading" }, "There is a problem"),
      el("p", {}, `Nothing was imported. Fix ${rows.size === 1 ? "this row" : `these ${rows.size} rows`} and import the file again.`),
      el("ul", {}, ...items));
    messages.replaceChildren(box);
    const field = document.getElementById(where);
    field?.setAttribute("aria-invalid", "true");
    problemsSlot.replaceChildren(
      el("p", { class: "row-error" }, `${rows.size === 1 ? "1 row has a problem" : `${rows.size} rows have problems`}; nothing was imported`),
      el("h3", { id: "import-problems-h" }, "Rows with problems"),
      el("div", { class: "scroll" }, el("table", { class: "table problems", "aria-labelledby": "import-problems-h" },
        el("thead", {}, el("tr", {}, ...["Row", "What it says", "Problem"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...[...rows.entries()].map(([key, r]) => el("tr", { id: `import-${key}`, tabindex: "-1" },
          el("th", { scope: "row" }, r.label), el("td", {}, el("code", {}, r.text)),
          el("td", {}, ...r.messages.map((m) => el("p", { class: "row-error" }, m)))))))));
    box.focus();
  };

  /** @param {unknown} e @param {Record<string, string>} fields */
  const showError = (e, fields) => {
    if (e instanceof ApiError && e.errors.length) errorSummary(messages, e.errors, fields);
    else notice(messages, "error", "That did not work", e instanceof Error ? e.message : String(e));
  };

  root.replaceChildren(
    el("p", {}, el("a", { href: "/", "data-link": "" }, "← Home")),
    el("h1", {}, "People and matches"), messages, zones, memberOptions,
    el("section", { "aria-labelledby": "people-h" },
      el("h2", { id: "people-h" }, "People"),
      el("form", { class: "search", role: "search", onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); state.q = search.value.trim(); state.offset = 0; loadPeople(); } },
        el("label", { for: "people-q" }, "Search by name, email or id"),
        el("div", { class: "inline-field" }, search, el("button", { type: "submit", class: "button secondary" }, "Search"))),
      el("div", { class: "actions" }, el("button", { type: "button", class: "button primary", onclick: () => memberForm(null) }, "Add a person")),
      memberSlot,
      el("div", { class: "scroll" }, el("table", { class: "table stack", id: "people-table" },
        el("thead", {}, el("tr", {}, ...["Name", "Email", "Time zone", "Weekly free time (their time)", "Matches", ""].map((h) => el("th", { scope: "col", class: h === "Matches" ? "num" : null }, h)))),
        peopleBody)), peoplePager),
    el("section", { "aria-labelledby": "matches-h" },
      el("h2", { id: "matches-h" }, "Matches"),
      el("div", { class: "actions" }, el("button", { type: "button", class: "button primary", onclick: matchForm }, "Add a match")),
      matchSlot,
      el("div", { class: "scroll" }, el("table", { class: "table stack", id: "match-table" },
        el("thead", {}, el("tr", {}, ...["Who", "Kind", "Organizer", "Sessions"].map((h) => el("th", { scope: "col" }, h)))),
        matchBody)), matchPager),
    el("section", { "aria-labelledby": "import-h" }, importForm));
  await Promise.all([loadPeople(), loadMatches()]);
  focusHeading(root);
}
