// Independent reading of a free/busy answer: ical.js (the parser inside Thunderbird) reads
// every VFREEBUSY of an .ics read from stdin and prints, as JSON, [{"uid", "start", "end",
// "organizer", "attendee", "periods": [{"start", "end", "fbtype"}]}], instants in UTC
// (ISO 8601). A period given as start/duration is printed with its end.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function utc(time) {
  return new Date(time.toUnixTime() * 1000).toISOString();
}

const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
const out = root.getAllSubcomponents("vfreebusy").map((fb) => ({
  uid: fb.getFirstPropertyValue("uid"),
  start: utc(fb.getFirstPropertyValue("dtstart")),
  end: utc(fb.getFirstPropertyValue("dtend")),
  organizer: fb.getFirstPropertyValue("organizer"),
  attendee: fb.getFirstPropertyValue("attendee"),
  periods: fb.getAllProperties("freebusy").flatMap((prop) =>
    prop.getValues().map((period) => ({
      start: utc(period.start),
      end: utc(period.getEnd()),
      fbtype: prop.getParameter("fbtype") ?? "BUSY",
    })),
  ),
}));
process.stdout.write(JSON.stringify(out) + "\n");
