// @ts-check
// Test harness for /static/app/heatmap.js: reads a heat map from the API with the token and
// query in location.hash (token, pid, xid, tz, from, weeks, duration; locale, week,
// selected for the map) and records every pick in window.__picks.
import { renderHeatmap } from "/static/app/heatmap.js";

const p = new URLSearchParams(location.hash.slice(1));
const query = new URLSearchParams();
for (const k of ["tz", "from", "weeks", "duration"]) {
  const v = p.get(k);
  if (v) query.set(k, v);
}
const r = await fetch(`/api/programs/${p.get("pid")}/matches/${p.get("xid")}/heatmap?${query}`, {
  headers: { Authorization: `Bearer ${p.get("token")}` },
});
const heat = await r.json();
/** @type {[string, number][]} */
const picks = [];
const picked = /** @type {HTMLElement} */ (document.getElementById("picked"));
const w = /** @type {any} */ (window);
w.__heat = heat;
w.__picks = picks;
w.__map = renderHeatmap(/** @type {HTMLElement} */ (document.getElementById("map")), heat, {
  zone: heat.view.timezone,
  locale: p.get("locale") || "en-GB",
  week: p.has("week") ? Number(p.get("week")) : undefined,
  selected: p.get("selected"),
  onPick: (iso, count) => {
    picks.push([iso, count]);
    picked.textContent = `${iso} (${count})`;
  },
});
document.body.dataset.ready = "1";
