// @ts-check
// The heat map of one match as a reusable ES module: a compact week view of who can
// start a session when, in the viewer's zone, usable with a mouse, a finger, the keyboard
// and a screen reader. It draws exactly the JSON of
// GET /api/programs/{pid}/matches/{xid}/heatmap and fetches nothing itself.
// No inline style anywhere (the service's Content-Security-Policy): colours are classes
// whose values are CSS custom properties in heatmap.css, so the page can theme them.

/**
 * @typedef {{slot: number, count: number, past: boolean}} HeatCell  see cellAt
 * @typedef {{timezone: string, dates: string[], times: string[],
 *   slots: (number | number[])[]}} HeatView  the slot starting at date d, time of day t
 *   (an index into the horizon) is slots[d] + t where slots[d] is a number (the date's
 *   times are consecutive slots), else slots[d][t], -1 where none does (a DST gap)
 * @typedef {{first_slot: number, slots: number, first_date: string | null,
 *   last_date: string | null, earlier: boolean, later: boolean}} HeatWindow
 * @typedef {{start: string, granularity_minutes: number, duration_minutes: number,
 *   members: string[], counts: number[], everyone: number[], past: number, view: HeatView,
 *   match?: string, names: Record<string, string>, free: string[],
 *   window: HeatWindow}} Heat
 * @typedef {{zone: string, locale?: string, week?: number,
 *   onPick?: (startIso: string, count: number) => void, selected?: string | null,
 *   pickPast?: false, onWeek?: (week: number) => void}} HeatmapOptions
 * @typedef {{setWeek: (n: number) => void, setSelected: (iso: string | null) => void,
 *   destroy: () => void}} HeatmapHandle
 * @typedef {{cell: HeatCell, date: string, time: string, start: string,
 *   el: HTMLTableCellElement}} Shown
 */

/** Colour steps besides "nobody" (0); the last one is kept for "everyone free". */
const STEPS = 8;
let instances = 0;

/**
 * Draw ``heat`` into ``container`` (its children are replaced).
 * @param {HTMLElement} container
 * @param {Heat} heat
 * @param {HeatmapOptions} options
 * @returns {HeatmapHandle}
 */
export function renderHeatmap(container, heat, options) {
  const view = heat.view;
  const zone = options.zone || view.timezone;
  if (canonicalZone(zone) !== canonicalZone(view.timezone)) {
    throw new Error(`renderHeatmap: options.zone ${zone} is not the zone the heat map ` +
      `was asked in (${view.timezone})`);
  }
  const id = `hm${++instances}`;
  const n = heat.members.length;
  const fmt = formatters(options.locale, zone);
  const bits = heat.free.map(decodeBitmap);
  const weeks = Math.max(1, Math.ceil(view.dates.length / 7));
  const hours = visibleHours(heat);
  /** @type {number | null} */
  let selected = options.selected ? Date.parse(options.selected) : null;
  let week = clamp(options.week ?? firstOpenWeek(heat), 0, weeks - 1);
  /** @type {(Shown | null)[][]} rows x 7 */
  let grid = [];
  /** @type {Map<HTMLTableCellElement, Shown>} */
  let byEl = new Map();
  /** @type {Shown | null} */
  let active = null;

  const root = el("div", { class: "hm", id });
  const prev = el("button", { type: "button", class: "hm-nav-button", "aria-label": "Previous week" }, "‹");
  const next = el("button", { type: "button", class: "hm-nav-button", "aria-label": "Next week" }, "›");
  const heading = el("p", { class: "hm-week", id: `${id}-week`, "aria-live": "polite" });
  const table = el("table", { class: "hm-grid", role: "grid", "aria-labelledby": `${id}-week` });
  const scroller = el("div", { class: "hm-scroll" }, table);
  // A region of its own that takes focus: with 50 names it scrolls, and keyboard users
  // must be able to scroll it too.
  const who = el("div", { class: "hm-who", id: `${id}-who`, role: "region", tabindex: "0",
    "aria-label": "Who is free" });
  root.append(
    el("div", { class: "hm-nav" }, prev, heading, next),
    legend(n),
    el("div", { class: "hm-body" }, scroller, who),
  );
  container.replaceChildren(root);

  /** Focus moves, picks and the who-is-free panel, all on the table (one set of listeners). */
  const onKey = (/** @type {KeyboardEvent} */ ev) => {
    const shown = byEl.get(/** @type {HTMLTableCellElement} */ (ev.target));
    if (!shown) return;
    const [r, c] = position(shown);
    /** @type {Shown | null | undefined} */
    let to;
    switch (ev.key) {
      case "ArrowUp": to = walk(r, c, -1, 0); break;
      case "ArrowDown": to = walk(r, c, 1, 0); break;
      case "ArrowLeft": to = walk(r, c, 0, -1); break;
      case "ArrowRight": to = walk(r, c, 0, 1); break;
      case "Home": to = ev.ctrlKey ? walk(-1, 0, 1, 0, true) : walk(r, -1, 0, 1); break;
      case "End": to = ev.ctrlKey ? walk(grid.length, 0, -1, 0, true) : walk(r, grid[r].length, 0, -1); break;
      case "PageUp": case "PageDown": {
        const before = week;
        setWeek(week + (ev.key === "PageUp" ? -1 : 1));
        if (week !== before) focusAt(r, c);
        ev.preventDefault();
        return;
      }
      case "Enter": case " ":
        pick(shown);
        ev.preventDefault();
        return;
      default: return;
    }
    ev.preventDefault();
    if (to) activate(to, true);
  };
  const onClick = (/** @type {MouseEvent} */ ev) => {
    const shown = shownAt(ev.target);
    if (!shown) return;
    activate(shown, true);
    pick(shown);
  };
  const onOver = (/** @type {MouseEvent} */ ev) => {
    const shown = shownAt(ev.target);
    if (shown) showWho(shown);
  };
  const onLeave = () => { if (active) showWho(active); };
  const onFocus = (/** @type {FocusEvent} */ ev) => {
    const shown = shownAt(ev.target);
    if (shown && shown !== active) activate(shown, false);
  };
  const onPrev = () => setWeek(week - 1);
  const onNext = () => setWeek(week + 1);
  table.addEventListener("keydown", onKey);
  table.addEventListener("click", onClick);
  table.addEventListener("mouseover", onOver);
  table.addEventListener("mouseleave", onLeave);
  table.addEventListener("focusin", onFocus);
  prev.addEventListener("click", onPrev);
  next.addEventListener("click", onNext);
  draw();

  /** @param {number} n */
  function setWeek(n) {
    const to = clamp(Math.trunc(n), 0, weeks - 1);
    if (to === week) return;
    week = to;
    draw();
    options.onWeek?.(week);
  }

  function draw() {
    const first = week * 7;
    const dates = view.dates.slice(first, first + 7);
    prev.disabled = week === 0;
    next.disabled = week >= weeks - 1;
    heading.replaceChildren(
      el("strong", {}, dates.length ? fmt.range(dates[0], dates[dates.length - 1]) : "No dates"),
      el("span", { class: "hm-zone" }, ` · times in ${zone}`),
    );
    const best = bestCount(heat, first, dates.length);
    grid = [];
    byEl = new Map();
    const body = [];
    let lastHour = -1;
    for (const [ti, time] of view.times.entries()) {
      const minutes = clockMinutes(time);
      const hour = Math.floor(minutes / 60);
      if (!hours.has(hour)) {
        if (lastHour !== -2) body.push(gapRow(hour, dates.length));
        lastHour = -2;
        continue;
      }
      const label = el("span", { class: hour === lastHour ? "hm-sr" : "" }, fmt.clock(minutes));
      lastHour = hour;
      /** @type {(Shown | null)[]} */
      const row = [];
      const tds = dates.map((date, di) => {
        const cell = cellAt(heat, first + di, ti);
        if (!cell) {
          row.push(null);
          return el("td", { class: "hm-none", "aria-label": `${fmt.day(date)} ${fmt.clock(minutes)}, no such time` });
        }
        const shown = { cell, date, time, start: slotStart(heat, cell.slot), el: cellElement(cell, best, date, time) };
        row.push(shown);
        byEl.set(shown.el, shown);
        return shown.el;
      });
      grid.push(row);
      const th = el("th", { scope: "row", class: minutes % 60 === 0 ? "hm-hour" : "" }, label);
      body.push(el("tr", { class: minutes % 60 === 0 ? "hm-hour" : "" }, th, ...tds));
    }
    const head = el("tr", {}, el("th", { scope: "col", class: "hm-corner" }, el("span", { class: "hm-sr" }, "Time")),
      ...dates.map((d) => el("th", { scope: "col", "data-date": d },
        el("span", { class: "hm-dow" }, fmt.weekday(d)), el("span", { class: "hm-date" }, fmt.date(d)))));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
    const cells = grid.flat().filter((s) => s !== null);
    if (!cells.length) {
      active = null;
      who.replaceChildren(el("p", {}, "Nobody can come in these weeks."));
      return;
    }
    const start = cells.find((s) => s.el.classList.contains("hm-selected"))
      ?? cells.find((s) => s.el.classList.contains("hm-best"))
      ?? cells.find((s) => !s.cell.past) ?? cells[0];
    activate(start, false);
  }

  /** @param {HeatCell} cell @param {number} best @param {string} date @param {string} time */
  function cellElement(cell, best, date, time) {
    const all = n > 0 && cell.count === n;
    const isBest = !cell.past && best > 0 && cell.count === best;
    const start = slotStart(heat, cell.slot);
    const isSelected = selected !== null && Date.parse(start) === selected;
    const step = cell.count === 0 ? 0 : all ? STEPS : 1 + Math.min(STEPS - 2, Math.floor((cell.count / n) * (STEPS - 1)));
    const classes = ["hm-cell", `hm-s${step}`];
    if (cell.past) classes.push("hm-past");
    if (all) classes.push("hm-all");
    if (isBest) classes.push("hm-best");
    if (isSelected) classes.push("hm-selected");
    const name = [`${fmt.instant(start)}, ${cell.count} of ${n} free`];
    if (all && n > 0) name.push("everyone");
    if (isBest) name.push("best this week");
    if (cell.past) name.push("past");
    const text = cell.past || cell.count === 0 ? "" : all ? "✓" : String(cell.count);
    return el("td", {
      role: "gridcell", class: classes.join(" "), tabindex: "-1",
      "data-slot": String(cell.slot), "data-count": String(cell.count), "data-start": start,
      "data-date": date, "data-time": time, "aria-label": name.join(", "),
      "aria-selected": cell.past ? null : String(isSelected),
      "aria-disabled": cell.past ? "true" : null,
    }, el("span", { "aria-hidden": "true" }, text));
  }

  /** @param {number} hour @param {number} columns */
  function gapRow(hour, columns) {
    let end = hour;
    while (end < 24 && !hours.has(end + 1) && hasHour(view, end + 1)) end++;
    const text = `${fmt.clock(hour * 60)}–${fmt.clock((end + 1) * 60)}: nobody free`;
    return el("tr", { class: "hm-gap" },
      el("td", { colspan: String(columns + 1) }, el("span", { "aria-hidden": "true" }, "⋯ "), text));
  }

  /** Roving tabindex: ``shown`` becomes the grid's one tab stop. @param {Shown} shown @param {boolean} focus */
  function activate(shown, focus) {
    if (active && active !== shown) {
      active.el.tabIndex = -1;
      active.el.removeAttribute("aria-describedby");
    }
    active = shown;
    shown.el.tabIndex = 0;
    showWho(shown);
    shown.el.setAttribute("aria-describedby", who.id);
    if (focus && document.activeElement !== shown.el) shown.el.focus();
  }

  /** @param {Shown} shown */
  function pick(shown) {
    if (shown.cell.past) return;
    selected = Date.parse(shown.start);
    for (const s of byEl.values()) mark(s);
    options.onPick?.(shown.start, shown.cell.count);
  }

  /** @param {Shown} s */
  function mark(s) {
    if (s.cell.past) return;
    const on = Date.parse(s.start) === selected;
    s.el.classList.toggle("hm-selected", on);
    s.el.setAttribute("aria-selected", String(on));
  }

  /** @param {Shown} shown */
  function showWho(shown) {
    /** @type {string[]} */
    const free = [];
    /** @type {string[]} */
    const busy = [];
    for (const [j, m] of heat.members.entries()) {
      (isFree(bits[j], shown.cell.slot - heat.window.first_slot) ? free : busy).push(heat.names[m] || m);
    }
    who.replaceChildren(
      el("p", { class: "hm-who-when" }, el("strong", {}, fmt.instant(shown.start)),
        ` · ${shown.cell.count} of ${n} free${shown.cell.past ? " · past" : ""}`),
      el("p", { class: "hm-who-free" }, `free: ${free.join(", ") || "nobody"}`),
      el("p", { class: "hm-who-busy" }, `not free: ${busy.join(", ") || "nobody"}`),
    );
  }

  /** @param {Shown} shown @returns {[number, number]} */
  function position(shown) {
    for (const [r, row] of grid.entries()) {
      const c = row.indexOf(shown);
      if (c >= 0) return [r, c];
    }
    return [0, 0];
  }

  /** The next cell from (r, c) going (dr, dc), skipping times that do not exist (DST
   * gaps); ``wrap`` walks whole rows (Ctrl+Home/End). */
  function walk(/** @type {number} */ r, /** @type {number} */ c, /** @type {number} */ dr,
    /** @type {number} */ dc, wrap = false) {
    for (;;) {
      r += dr; c += dc;
      if (r < 0 || r >= grid.length) return null;
      const row = grid[r];
      if (wrap) {
        const found = (dr > 0 ? row : [...row].reverse()).find((s) => s);
        if (found) return found;
        continue;
      }
      if (c < 0 || c >= row.length) return null;
      if (row[c]) return row[c];
    }
  }

  /** @param {number} r @param {number} c */
  function focusAt(r, c) {
    r = clamp(r, 0, grid.length - 1);
    const row = grid[r] ?? [];
    const to = row[Math.min(c, row.length - 1)] ?? row.find((s) => s) ?? grid.flat().find((s) => s);
    if (to) activate(to, true);
  }

  /** @param {EventTarget | null} target */
  function shownAt(target) {
    const td = target instanceof Element ? target.closest("td.hm-cell") : null;
    return td ? byEl.get(/** @type {HTMLTableCellElement} */ (td)) ?? null : null;
  }

  return {
    setWeek,
    setSelected(iso) {
      selected = iso ? Date.parse(iso) : null;
      for (const s of byEl.values()) mark(s);
    },
    destroy() {
      table.removeEventListener("keydown", onKey);
      table.removeEventListener("click", onClick);
      table.removeEventListener("mouseover", onOver);
      table.removeEventListener("mouseleave", onLeave);
      table.removeEventListener("focusin", onFocus);
      prev.removeEventListener("click", onPrev);
      next.removeEventListener("click", onNext);
      root.remove();
    },
  };
}

/** The legend: the colour steps from nobody to everyone, and what the marks mean. @param {number} n */
function legend(n) {
  const swatches = [];
  for (let s = 0; s <= STEPS; s++) swatches.push(el("span", { class: `hm-swatch hm-s${s}` }));
  return el("div", { class: "hm-legend" },
    el("span", { class: "hm-scale" }, "0 ", el("span", { class: "hm-ramp", "aria-hidden": "true" }, ...swatches),
      ` ${n} of ${n} free`),
    el("span", {}, el("span", { class: "hm-swatch hm-s8 hm-mark", "aria-hidden": "true" }, "✓"), " everyone"),
    el("span", {}, el("span", { class: "hm-swatch hm-s1 hm-best", "aria-hidden": "true" }), " best this week"),
    el("span", {}, el("span", { class: "hm-swatch hm-past", "aria-hidden": "true" }), " past"),
    el("span", {}, el("span", { class: "hm-swatch hm-s0 hm-selected", "aria-hidden": "true" }), " picked"),
  );
}

/**
 * The cell of ``heat``'s view at date ``d`` and time of day ``t``: its slot (an index into
 * the horizon), how many members are free then and whether it is past; null where no slot
 * starts then (a DST gap).
 * @param {Heat} heat @param {number} d @param {number} t
 * @returns {HeatCell | null}
 */
export function cellAt(heat, d, t) {
  const row = heat.view.slots[d];
  const slot = typeof row === "number" ? row + t : row[t];
  return slot < 0 ? null : { slot, count: heat.counts[slot - heat.window.first_slot], past: slot < heat.past };
}

/**
 * The cells of date ``d`` (view order) that can still be picked and suit someone: the
 * times the wizard and the move dialog offer.
 * @param {Heat} heat @param {number} d
 * @returns {HeatCell[]}
 */
export function openCells(heat, d) {
  /** @type {HeatCell[]} */
  const open = [];
  for (let t = 0; t < heat.view.times.length; t++) {
    const c = cellAt(heat, d, t);
    if (c && !c.past && c.count > 0) open.push(c);
  }
  return open;
}

/** Hours of the day (0-23, viewer's zone) in which someone is free at some date of the
 * window; the others are collapsed. @param {Heat} heat */
function visibleHours(heat) {
  const hours = new Set();
  for (const [ti, time] of heat.view.times.entries()) {
    if (heat.view.dates.some((_, d) => (cellAt(heat, d, ti)?.count ?? 0) > 0)) hours.add(Math.floor(clockMinutes(time) / 60));
  }
  return hours;
}

/** @param {HeatView} view @param {number} hour */
function hasHour(view, hour) {
  return view.times.some((t) => Math.floor(clockMinutes(t) / 60) === hour);
}

/** The highest count among the week's cells that can still be picked. @param {Heat} heat
 * @param {number} first @param {number} days */
function bestCount(heat, first, days) {
  let best = 0;
  for (let d = first; d < first + days; d++) {
    for (const c of openCells(heat, d)) if (c.count > best) best = c.count;
  }
  return best;
}

/** The first week with a cell that is not past. @param {Heat} heat */
function firstOpenWeek(heat) {
  const d = heat.view.dates.findIndex((_, di) =>
    heat.view.times.some((_, t) => { const c = cellAt(heat, di, t); return c !== null && !c.past; }));
  return Math.max(0, Math.floor(d / 7));
}

/** The instant a slot starts, ISO 8601 in UTC ("2027-03-02T14:00:00Z").
 * @param {Heat} heat @param {number} slot */
function slotStart(heat, slot) {
  const t = Date.parse(heat.start) + slot * heat.granularity_minutes * 60_000;
  return new Date(t).toISOString().replace(".000Z", "Z");
}

/** A member's base64 bitmap (bit i, little-endian within each byte, is the window's slot i).
 * @param {string} b64 */
function decodeBitmap(b64) {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** @param {Uint8Array} bits @param {number} i */
function isFree(bits, i) {
  return i >= 0 && i >> 3 < bits.length && ((bits[i >> 3] >> (i & 7)) & 1) === 1;
}

/** Dates and times in the viewer's zone and locale. Dates of the view are already dates
 * in that zone, so they are formatted as UTC calendar dates; instants in the zone.
 * @param {string | undefined} locale @param {string} zone */
function formatters(locale, zone) {
  const dow = new Intl.DateTimeFormat(locale, { weekday: "short", timeZone: "UTC" });
  const dm = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", timeZone: "UTC" });
  const day = new Intl.DateTimeFormat(locale, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  const range = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  const clock = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  const when = new Intl.DateTimeFormat(locale, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: zone,
  });
  const noon = (/** @type {string} */ d) => new Date(`${d}T12:00:00Z`);
  return {
    weekday: (/** @type {string} */ d) => dow.format(noon(d)),
    date: (/** @type {string} */ d) => dm.format(noon(d)),
    day: (/** @type {string} */ d) => day.format(noon(d)),
    range: (/** @type {string} */ a, /** @type {string} */ b) => range.formatRange(noon(a), noon(b)),
    clock: (/** @type {number} */ minutes) => clock.format(new Date(Date.UTC(2000, 0, 1) + minutes * 60_000)),
    instant: (/** @type {string} */ iso) => when.format(new Date(iso)).replace(/,(?=[^,]*$)/, ""),
  };
}

/** @param {string} zone */
function canonicalZone(zone) {
  return new Intl.DateTimeFormat("en", { timeZone: zone }).resolvedOptions().timeZone;
}

/** "HH:MM" as minutes after midnight. @param {string} time */
function clockMinutes(time) {
  const [h, m] = time.split(":").map(Number);
  return h * 60 + m;
}

/** @param {number} x @param {number} lo @param {number} hi */
function clamp(x, lo, hi) {
  return Math.max(lo, Math.min(hi, x));
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | null>} attrs
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== "") e.setAttribute(k, v);
  e.append(...children);
  return e;
}
