// @ts-check
// The weekly free-time editor: a week grid (Monday to Sunday, one row per step of the day)
// where a member paints when they are usually free, by pointer drag (mouse, pen, finger)
// or by keyboard (a roving-tabindex grid as in heatmap.js: arrows move, Shift+arrows
// extend a selection, Space or Enter toggles it). It reads and writes the member's
// `weekly` windows (SPEC 6), wall-clock times in the member's own zone.
// No inline style (the Content-Security-Policy): the look is classes in availability.css.

/** @typedef {{days: string[], start: string, end: string}} Window */
/**
 * @typedef {{step: number, weekly: Window[], zone: string, locale?: string,
 *   onChange?: (windows: Window[]) => void}} WeekGridOptions
 * @typedef {{windows: () => Window[], kept: () => Window[], setZone: (zone: string) => void,
 *   setWindows: (weekly: Window[]) => void, paintWindows: (weekly: Window[]) => void,
 *   clear: () => void}} WeekGridHandle
 */

export const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const DAY_MINUTES = 24 * 60;
/** The part of the day shown unless the member asks for all of it (or has time outside). */
const SHOWN_FROM = 6 * 60, SHOWN_TO = 22 * 60;
let instances = 0;

/** "HH:MM" (or "24:00") → minutes after midnight; NaN when it is not one. @param {string} s */
export function minutes(s) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(String(s).trim());
  if (!m) return NaN;
  const v = Number(m[1]) * 60 + Number(m[2]);
  return Number(m[2]) > 59 || v > DAY_MINUTES ? NaN : v;
}

/** Minutes after midnight → "HH:MM" (1440 → "24:00"), the form the API takes. @param {number} v */
export function clock(v) {
  return `${String(Math.floor(v / 60)).padStart(2, "0")}:${String(v % 60).padStart(2, "0")}`;
}

/**
 * Split ``weekly`` into painted cells (``cells[day * rows + row]``) and the windows that
 * do not fall on the grid's ``step`` (kept as they are, never rounded).
 * @param {Window[]} weekly
 * @param {number} step
 * @returns {{cells: Uint8Array, kept: Window[]}}
 */
export function windowsToCells(weekly, step) {
  const rows = DAY_MINUTES / step;
  const cells = new Uint8Array(7 * rows);
  /** @type {Window[]} */
  const kept = [];
  for (const w of weekly) {
    const s = minutes(w.start), e = minutes(w.end);
    const days = w.days.map((d) => DAYS.indexOf(d));
    if (!(s % step === 0 && e % step === 0 && s < e) || days.some((d) => d < 0)) {
      kept.push({ days: [...w.days], start: w.start, end: w.end });
      continue;
    }
    for (const d of days) for (let r = s / step; r < e / step; r++) cells[d * rows + r] = 1;
  }
  return { cells, kept };
}

/**
 * The fewest windows that paint ``cells``: each day's runs of free cells, and runs with the
 * same start and end on several days joined into one window (days in week order).
 * @param {Uint8Array} cells
 * @param {number} step
 * @returns {Window[]}
 */
export function cellsToWindows(cells, step) {
  const rows = DAY_MINUTES / step;
  /** @type {Map<string, {s: number, e: number, days: string[]}>} */
  const runs = new Map();
  for (let d = 0; d < 7; d++) {
    for (let r = 0; r < rows;) {
      if (!cells[d * rows + r]) { r++; continue; }
      const s = r;
      while (r < rows && cells[d * rows + r]) r++;
      const key = `${s}-${r}`;
      const run = runs.get(key) ?? { s, e: r, days: [] };
      run.days.push(DAYS[d]);
      runs.set(key, run);
    }
  }
  return [...runs.values()]
    .sort((a, b) => a.s - b.s || a.e - b.e || DAYS.indexOf(a.days[0]) - DAYS.indexOf(b.days[0]))
    .map((x) => ({ days: x.days, start: clock(x.s * step), end: clock(x.e * step) }));
}

/**
 * Draw the editor into ``container`` (its children are replaced).
 * @param {HTMLElement} container
 * @param {WeekGridOptions} options
 * @returns {WeekGridHandle}
 */
export function renderWeekGrid(container, options) {
  const step = options.step;
  const rows = DAY_MINUTES / step;
  const id = `wg${++instances}`;
  const names = dayNames(options.locale);
  const clockText = clockFormat(options.locale);
  let { cells, kept } = windowsToCells(options.weekly, step);
  let zone = options.zone;
  let whole = needsWholeDay();
  /** Focus (roving tabindex) and the keyboard selection's other corner. */
  let focus = { d: 0, r: Math.max(0, SHOWN_FROM / step + 3) };
  let anchor = { ...focus };
  /** @type {{mode: number, from: {d: number, r: number}, before: Uint8Array, pointer: number} | null} */
  let drag = null;
  /** @type {Map<string, HTMLTableCellElement>} */
  let byPos = new Map();

  const caption = el("p", { class: "wg-caption", id: `${id}-caption` });
  const help = el("p", { class: "hint wg-help", id: `${id}-help` },
    "Drag over the grid to mark when you are free; drag from a free time to clear. With the keyboard: " +
    "arrow keys move, Shift with the arrows selects more, Space or Enter marks or clears. " +
    "On a touch screen, swipe on the times at the left to scroll.");
  const table = el("table", { class: "wg-grid", role: "grid", "aria-multiselectable": "true",
    "aria-labelledby": caption.id, "aria-describedby": help.id });
  const status = el("p", { class: "wg-sr", role: "status", "aria-live": "polite" });
  const wholeButton = el("button", { type: "button", class: "button small secondary", "aria-pressed": "false" });
  const clearButton = el("button", { type: "button", class: "button small secondary" }, "Clear the week");
  const summary = el("div", { class: "wg-summary", id: `${id}-summary` });
  const keptBox = el("div", { class: "wg-kept-list" });
  container.replaceChildren(el("div", { class: "wg", id },
    caption, help,
    el("div", { class: "actions wg-tools" }, wholeButton, clearButton),
    el("div", { class: "wg-frame" }, table), status, summary, keptBox));

  const onPointerDown = (/** @type {PointerEvent} */ ev) => {
    const at = posOf(ev.target);
    if (!at || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    ev.preventDefault();
    const target = /** @type {HTMLElement} */ (ev.target);
    // Touch pointers are captured by the cell they started on: let them go, so the cells
    // the finger moves over can be found.
    if (target.hasPointerCapture?.(ev.pointerId)) target.releasePointerCapture(ev.pointerId);
    drag = { mode: get(at) ? 0 : 1, from: at, before: cells.slice(), pointer: ev.pointerId };
    focus = at; anchor = at;
    paintRect(at, at);
    roving(true);
    window.addEventListener("pointermove", onPointerMove);
    window.addEventListener("pointerup", onPointerUp);
    window.addEventListener("pointercancel", onPointerUp);
  };
  const onPointerMove = (/** @type {PointerEvent} */ ev) => {
    if (!drag || ev.pointerId !== drag.pointer) return;
    const at = posOf(document.elementFromPoint(ev.clientX, ev.clientY));
    if (!at || (at.d === focus.d && at.r === focus.r)) return;
    focus = at;
    paintRect(drag.from, at);
    roving(false);
  };
  const onPointerUp = (/** @type {PointerEvent} */ ev) => {
    if (!drag || ev.pointerId !== drag.pointer) return;
    const was = drag;
    drag = null;
    window.removeEventListener("pointermove", onPointerMove);
    window.removeEventListener("pointerup", onPointerUp);
    window.removeEventListener("pointercancel", onPointerUp);
    if (ev.type === "pointercancel") { cells = was.before; redrawCells(); return; }
    anchor = { ...focus };
    changed(`${rangeText(was.from, focus)} ${was.mode ? "free" : "not free"}`);
  };
  const onKey = (/** @type {KeyboardEvent} */ ev) => {
    if (!posOf(ev.target)) return;
    const moves = /** @type {Record<string, [number, number]>} */ ({
      ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0],
    });
    const [lo, hi] = shownRows();
    let to = null;
    if (ev.key in moves) {
      const [dd, dr] = moves[ev.key];
      to = { d: clamp(focus.d + dd, 0, 6), r: clamp(focus.r + dr, lo, hi - 1) };
    } else if (ev.key === "Home") to = ev.ctrlKey ? { d: 0, r: lo } : { d: 0, r: focus.r };
    else if (ev.key === "End") to = ev.ctrlKey ? { d: 6, r: hi - 1 } : { d: 6, r: focus.r };
    else if (ev.key === "PageUp" || ev.key === "PageDown") {
      const hour = 60 / step * (ev.key === "PageUp" ? -1 : 1);
      to = { d: focus.d, r: clamp(focus.r + hour, lo, hi - 1) };
    } else if (ev.key === " " || ev.key === "Enter") {
      ev.preventDefault();
      toggleSelection();
      return;
    } else if (ev.key === "Escape") {
      anchor = { ...focus };
      marks();
      return;
    } else return;
    ev.preventDefault();
    focus = to;
    if (!ev.shiftKey) anchor = { ...to };
    roving(true);
    marks();
  };
  table.addEventListener("pointerdown", onPointerDown);
  table.addEventListener("keydown", onKey);
  table.addEventListener("focusin", (ev) => {
    const at = posOf(ev.target);
    if (at && (at.d !== focus.d || at.r !== focus.r)) { focus = at; anchor = { ...at }; roving(false); marks(); }
  });
  wholeButton.addEventListener("click", () => { whole = !whole || needsWholeDay(); draw(); });
  clearButton.addEventListener("click", () => {
    cells = new Uint8Array(7 * rows);
    redrawCells();
    changed("The whole week is now not free");
  });
  draw();

  function draw() {
    wholeButton.textContent = whole ? "Show 06:00–22:00 only" : "Show the whole day";
    wholeButton.setAttribute("aria-pressed", String(whole));
    wholeButton.hidden = whole && needsWholeDay();
    const [lo, hi] = shownRows();
    focus = { d: focus.d, r: clamp(focus.r, lo, hi - 1) };
    anchor = { d: anchor.d, r: clamp(anchor.r, lo, hi - 1) };
    byPos = new Map();
    const head = el("tr", {}, el("th", { scope: "col", class: "wg-corner" }, el("span", { class: "wg-sr" }, "Time")),
      ...names.map((n) => el("th", { scope: "col" },
        el("span", { class: "wg-long", "aria-hidden": "true" }, n.short),
        el("span", { class: "wg-sr" }, n.long))));
    const body = [];
    for (let r = lo; r < hi; r++) {
      const m = r * step;
      const tds = [];
      for (let d = 0; d < 7; d++) {
        const td = /** @type {HTMLTableCellElement} */ (el("td", { role: "gridcell", tabindex: "-1",
          "data-day": DAYS[d], "data-time": clock(m) }, el("span", { class: "wg-mark", "aria-hidden": "true" })));
        byPos.set(`${d},${r}`, td);
        tds.push(td);
      }
      body.push(el("tr", { class: m % 60 === 0 ? "wg-hour" : "" },
        el("th", { scope: "row", class: m % 60 === 0 ? "" : "wg-half" }, clockText(m)), ...tds));
    }
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
    redrawCells();
    roving(false);
    marks();
    captionText();
    keptList();
  }

  /** Classes, marks and names of every shown cell; the summary of the week. */
  function redrawCells() {
    for (const [key, td] of byPos) {
      const [d, r] = key.split(",").map(Number);
      const free = !!cells[d * rows + r];
      const partly = keptAt(d, r);
      td.className = `wg-cell${free ? " wg-free" : ""}${partly.length ? " wg-partly" : ""}`;
      /** @type {HTMLElement} */ (td.firstElementChild).textContent = free ? "✓" : partly.length ? "◐" : "";
      const extra = partly.length ? `; partly free (${partly.map((w) => `${clockText(minutes(w.start))}–${clockText(minutes(w.end))}`).join(", ")}, kept)` : "";
      td.setAttribute("aria-label", `${names[d].long} ${clockText(r * step)}–${clockText((r + 1) * step)}, ${free ? "free" : "not free"}${extra}`);
    }
    summaryText();
  }

  /** The keyboard selection: aria-selected and a dashed outline on the rectangle anchor–focus. */
  function marks() {
    const [d0, d1] = [Math.min(anchor.d, focus.d), Math.max(anchor.d, focus.d)];
    const [r0, r1] = [Math.min(anchor.r, focus.r), Math.max(anchor.r, focus.r)];
    const many = d0 !== d1 || r0 !== r1;
    for (const [key, td] of byPos) {
      const [d, r] = key.split(",").map(Number);
      const on = many && d >= d0 && d <= d1 && r >= r0 && r <= r1;
      td.classList.toggle("wg-selected", on);
      td.setAttribute("aria-selected", String(on));
    }
  }

  function toggleSelection() {
    const [d0, d1] = [Math.min(anchor.d, focus.d), Math.max(anchor.d, focus.d)];
    const [r0, r1] = [Math.min(anchor.r, focus.r), Math.max(anchor.r, focus.r)];
    let all = true;
    for (let d = d0; d <= d1; d++) for (let r = r0; r <= r1; r++) all = all && !!cells[d * rows + r];
    for (let d = d0; d <= d1; d++) for (let r = r0; r <= r1; r++) cells[d * rows + r] = all ? 0 : 1;
    const from = { d: d0, r: r0 }, to = { d: d1, r: r1 };
    anchor = { ...focus };
    redrawCells();
    marks();
    changed(`${rangeText(from, to)} ${all ? "not free" : "free"}`);
  }

  /** @param {{d: number, r: number}} a @param {{d: number, r: number}} b */
  function paintRect(a, b) {
    if (!drag) return;
    cells = drag.before.slice();
    const [d0, d1] = [Math.min(a.d, b.d), Math.max(a.d, b.d)];
    const [r0, r1] = [Math.min(a.r, b.r), Math.max(a.r, b.r)];
    for (let d = d0; d <= d1; d++) for (let r = r0; r <= r1; r++) cells[d * rows + r] = drag.mode;
    redrawCells();
  }

  /** @param {{d: number, r: number}} a @param {{d: number, r: number}} b */
  function rangeText(a, b) {
    const [d0, d1] = [Math.min(a.d, b.d), Math.max(a.d, b.d)];
    const [r0, r1] = [Math.min(a.r, b.r), Math.max(a.r, b.r)];
    const days = d0 === d1 ? names[d0].long : `${names[d0].long} to ${names[d1].long}`;
    return `${days} ${clockText(r0 * step)}–${clockText((r1 + 1) * step)}`;
  }

  /** @param {string} said */
  function changed(said) {
    status.textContent = said;
    if (!whole && needsWholeDay()) { whole = true; draw(); }
    options.onChange?.(windows());
  }

  /** The roving tab stop is the focus cell; ``move`` focuses it. @param {boolean} move */
  function roving(move) {
    for (const td of byPos.values()) td.tabIndex = -1;
    const td = byPos.get(`${focus.d},${focus.r}`);
    if (!td) return;
    td.tabIndex = 0;
    if (move && document.activeElement !== td) td.focus({ preventScroll: false });
  }

  function captionText() {
    caption.replaceChildren(el("strong", {}, "Free time each week"), ` · times in ${zone.replaceAll("_", " ")}`);
  }

  function summaryText() {
    const ws = cellsToWindows(cells, step);
    summary.replaceChildren(el("h3", {}, "In words"), ws.length
      ? el("ul", {}, ...ws.map((w) => el("li", {}, `${dayList(w.days)}: ${clockText(minutes(w.start))}–${clockText(minutes(w.end))}`)))
      : el("p", { class: "muted" }, "No free time marked on the grid."));
  }

  function keptList() {
    keptBox.replaceChildren();
    if (!kept.length) return;
    keptBox.append(el("h3", {}, "Times that do not fit the grid"),
      el("p", { class: "hint" }, `These were set elsewhere and do not start and end on the grid's ${step}-minute steps, so they are kept as they are (◐ on the grid). Remove one to paint that time yourself.`),
      el("ul", {}, ...kept.map((w, i) => el("li", { class: "wg-kept-item" },
        `${dayList(w.days)}: ${clockText(minutes(w.start))}–${clockText(minutes(w.end))} `,
        el("button", { type: "button", class: "button small secondary", "aria-label": `Remove ${dayList(w.days)} ${w.start}–${w.end}`,
          onclick: () => { kept.splice(i, 1); draw(); changed("Removed"); } }, "Remove")))));
  }

  /** @param {string[]} days */
  function dayList(days) {
    return days.map((x) => names[DAYS.indexOf(x)]?.long ?? x).join(", ");
  }

  /** Kept windows overlapping cell (d, r). @param {number} d @param {number} r */
  function keptAt(d, r) {
    const s = r * step, e = s + step;
    return kept.filter((w) => w.days.includes(DAYS[d]) && minutes(w.start) < e && minutes(w.end) > s);
  }

  /** @returns {[number, number]} first and past-last row shown */
  function shownRows() {
    return whole ? [0, rows] : [Math.floor(SHOWN_FROM / step), Math.ceil(SHOWN_TO / step)];
  }

  function needsWholeDay() {
    const lo = Math.floor(SHOWN_FROM / step), hi = Math.ceil(SHOWN_TO / step);
    for (let d = 0; d < 7; d++) for (let r = 0; r < rows; r++) {
      if (cells[d * rows + r] && (r < lo || r >= hi)) return true;
    }
    return kept.some((w) => minutes(w.start) < SHOWN_FROM || minutes(w.end) > SHOWN_TO);
  }

  /** @param {EventTarget | Element | null} target */
  function posOf(target) {
    const td = target instanceof Element ? target.closest("td[role=gridcell]") : null;
    if (!td || !table.contains(td)) return null;
    const d = DAYS.indexOf(/** @type {HTMLElement} */ (td).dataset.day || "");
    const r = minutes(/** @type {HTMLElement} */ (td).dataset.time || "") / step;
    return d < 0 || !Number.isInteger(r) ? null : { d, r };
  }

  /** @param {{d: number, r: number}} at */
  function get(at) { return cells[at.d * rows + at.r]; }

  function windows() { return [...cellsToWindows(cells, step), ...kept.map((w) => ({ ...w, days: [...w.days] }))]; }

  return {
    windows,
    kept: () => kept.map((w) => ({ ...w })),
    setZone(z) { zone = z; captionText(); },
    setWindows(weekly) {
      ({ cells, kept } = windowsToCells(weekly, step));
      whole = whole || needsWholeDay();
      draw();
    },
    paintWindows(weekly) {
      const add = windowsToCells(weekly, step);
      for (let i = 0; i < cells.length; i++) cells[i] = cells[i] | add.cells[i];
      kept.push(...add.kept);
      whole = whole || needsWholeDay();
      draw();
      changed("Painted");
    },
    clear() { cells = new Uint8Array(7 * rows); redrawCells(); },
  };
}

/** Monday to Sunday in the viewer's language: "Mon" and "Monday". @param {string} [locale] */
function dayNames(locale) {
  const f = (/** @type {"short"|"long"} */ w) => new Intl.DateTimeFormat(locale, { weekday: w, timeZone: "UTC" });
  return DAYS.map((_, i) => {
    const date = new Date(Date.UTC(2024, 0, 1 + i)); // 1 January 2024 was a Monday
    return { short: f("short").format(date), long: f("long").format(date) };
  });
}

/** Minutes after midnight as the viewer's clock reads them ("09:00", "9:00 AM"); the end
 * of the day as "24:00" where clocks run 00–23, else as midnight. @param {string} [locale] */
function clockFormat(locale) {
  const f = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  const h23 = f.resolvedOptions().hourCycle === "h23";
  return (/** @type {number} */ m) => m >= DAY_MINUTES
    ? (h23 ? "24:00" : f.format(new Date(Date.UTC(2024, 0, 1))))
    : f.format(new Date(Date.UTC(2024, 0, 1, 0, m)));
}

/** @param {number} v @param {number} lo @param {number} hi */
function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string)} children
 */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false || v === "") continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  e.append(...children);
  return e;
}
