// Independent reading of an invite: ical.js (the parser inside Thunderbird) expands the
// series in an .ics read from stdin, using only the VTIMEZONEs in that file, and prints
// every occurrence as JSON: [{"recurrence_id", "start", "end", "status"}] in UTC (ISO 8601).
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const MAX_OCCURRENCES = 1000;

function utc(time) {
  return new Date(time.toUnixTime() * 1000).toISOString();
}

const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
// Use the file's own zones only (ical.js ships no zone data). ical.js 2 also finds a
// TZID's VTIMEZONE in the same VCALENDAR by itself; registering them too, before any
// date-time is decoded, keeps 1.x behaviour (where an unknown TZID silently became
// floating) and lookups by name working. A TZID without a VTIMEZONE is refused below.
const known = new Set();
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
  known.add(vtimezone.getFirstPropertyValue("tzid"));
}
const vevents = root.getAllSubcomponents("vevent");
for (const vevent of vevents) {
  for (const prop of vevent.getAllProperties()) {
    const tzid = prop.getParameter("tzid");
    if (tzid && !known.has(tzid)) {
      console.error(`TZID ${tzid} has no VTIMEZONE in the file`);
      process.exit(2);
    }
  }
}
const masters = vevents.filter((v) => !v.hasProperty("recurrence-id"));
if (masters.length !== 1) {
  console.error(`expected one master VEVENT, found ${masters.length}`);
  process.exit(2);
}
const event = new ICAL.Event(masters[0], {
  exceptions: vevents.filter((v) => v.hasProperty("recurrence-id")),
  strictExceptions: true,
});
const out = [];
const iterator = event.iterator();
for (let next = iterator.next(); next; next = iterator.next()) {
  if (out.length >= MAX_OCCURRENCES) {
    console.error("too many occurrences");
    process.exit(2);
  }
  const details = event.getOccurrenceDetails(next);
  out.push({
    recurrence_id: utc(next),
    start: utc(details.startDate),
    end: utc(details.endDate),
    status: details.item.component.getFirstPropertyValue("status"),
  });
}
process.stdout.write(JSON.stringify(out) + "\n");
