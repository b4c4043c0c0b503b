"""Seeded generators of realistic mentoring programs and member calendars for the benchmarks.

A program is built the way real mentoring programs look: cohorts of mentors, each with
2-5 mentees in 1-on-1 matches, plus facilitated peer groups inside the cohort that pull
in some of its mentees (and sometimes a mentor as facilitator). People therefore share
matches, but only within a cohort, so the person graph splits into many small
components and a few medium ones instead of one giant component.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same document.

Knobs beyond the size (``DEFAULTS``; each left at its default, the document is the one
the presets have always given for a seed):

- ``people``: the dense family. With ``people`` > 0 there are no cohorts: that many
  people (a quarter mentors) share all the matches, so each sits in many of them and
  the person graph is one large, dense component, e.g. ``{"people": 60, "matches":
  160}`` or ``{"people": 300, "matches": 800}``.
- ``popular_mentor_matches``: one more mentor in this many 1-on-1 matches, with
  mentees of the program (new ones when there are too few), so one component holds
  them all and the mentor cannot take every series.
- ``big_group``: one more group series whose members are a cohort of this many of the
  program's people (new peers when there are too few), with a mentor as facilitator:
  one component of at least that many people.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.document import DAYS, format_clock

PRESETS: dict[str, dict[str, Any]] = {
    "S": {"matches": 50},
    "M": {"matches": 1_000},
    "L": {"matches": 5_000},
}

DEFAULTS: dict[str, Any] = {
    "matches": 50,
    "group_share": 0.078,  # share of matches that are facilitated groups
    "mentee_group_share": 0.10,  # share of mentees who also sit in a group
    "facilitator_mentor_share": 0.30,  # share of groups facilitated by a mentor
    "cap_share": 0.20,  # share of mentors with a max_sessions_per_week cap
    "sessions": 12,
    "weeks": 12,
    "granularity_minutes": 15,
    "start": "2027-01-04",
    "timezone": "America/New_York",
    "people": 0,  # > 0: the dense family, this many people share every match
    "popular_mentor_matches": 0,  # > 0: one mentor in this many 1-on-1 matches
    "big_group": 0,  # > 0: one group series of this many of the program's people
}

# (zone, region, weight): where members of an international program live.
ZONES: tuple[tuple[str, str, int], ...] = (
    ("America/New_York", "americas", 18),
    ("America/Chicago", "americas", 9),
    ("America/Los_Angeles", "americas", 10),
    ("America/Mexico_City", "americas", 3),
    ("America/Sao_Paulo", "americas", 5),
    ("Europe/London", "emea", 10),
    ("Europe/Berlin", "emea", 9),
    ("Europe/Lisbon", "emea", 4),
    ("Africa/Lagos", "emea", 5),
    ("Africa/Nairobi", "emea", 2),
    ("Asia/Kolkata", "apac", 10),
    ("Asia/Singapore", "apac", 5),
    ("Asia/Tokyo", "apac", 2),
    ("Australia/Sydney", "apac", 4),
)
REGIONS = {"americas": 50, "emea": 32, "apac": 18}

FIRST = (
    "Ana",
    "Ben",
    "Cara",
    "Dan",
    "Eve",
    "Fay",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tomás",
    "Uma",
    "Vikram",
    "Wen",
    "Xavier",
    "Yara",
    "Zoë",
    "Aiko",
    "Bola",
    "Chloé",
    "Dev",
    "Emeka",
    "Farah",
    "Gabriel",
    "Hiro",
    "Isla",
    "João",
    "Kavya",
    "Liam",
    "Mei",
    "Noah",
)
LAST = (
    "Silva",
    "Okafor",
    "Nguyen",
    "Müller",
    "Smith",
    "Patel",
    "García",
    "Kim",
    "Rossi",
    "Adeyemi",
    "Chen",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Johnson",
    "Santos",
    "Ivanova",
    "Mensah",
    "Larsen",
    "Dubois",
    "Sharma",
    "O'Brien",
    "Costa",
    "Wright",
    "Lim",
    "Fischer",
    "Mwangi",
    "Cohen",
    "Ramos",
    "Brown",
)
AGENDAS = (
    "Goals for the term",
    "Career conversation",
    "Portfolio review",
    "Reading circle",
    "Interview practice",
    "Open questions",
    None,
    None,
)


def _config(size: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(size, str):
        if size.upper() not in PRESETS:
            raise ValueError(f"unknown preset {size!r}; use one of {', '.join(PRESETS)} or a dict")
        size = PRESETS[size.upper()]
    unknown = set(size) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown size keys: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **size}
    if cfg["matches"] < 1:
        raise ValueError("matches must be at least 1")
    for key in ("people", "popular_mentor_matches", "big_group"):
        if not isinstance(cfg[key], int) or cfg[key] < 0:
            raise ValueError(f"{key} must be a whole number, 0 or more")
    if 0 < cfg["people"] < 4:
        raise ValueError("people must be 0 (cohorts) or at least 4")
    return cfg


@dataclass
class _Cohort:
    """A track of the program: its mentors, mentees and groups share a home region."""

    region: str
    mentors: list[str] = field(default_factory=list)
    mentees: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (mentor, mentee)
    groups: list[list[str]] = field(default_factory=list)  # seats (members) of each group
    facilitators: list[str] = field(default_factory=list)  # one per group


class _ProgramBuilder:
    def __init__(self, cfg: dict[str, Any], seed: int) -> None:
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.start = date.fromisoformat(cfg["start"])
        self.days = cfg["weeks"] * 7
        self.members: dict[str, dict[str, Any]] = {}
        self.counters: Counter[str] = Counter()

    # -- people -----------------------------------------------------------------------

    def zone(self, region: str, near: str | None = None) -> str | None:
        rng = self.rng
        if near is not None and rng.random() < 0.4:
            return near
        if rng.random() < 0.04:
            return None  # never set a zone: the program's applies
        pool = [z for z in ZONES if z[1] == region] if rng.random() < 0.65 else list(ZONES)
        return rng.choices([z[0] for z in pool], [z[2] for z in pool])[0]

    def person(self, role: str, region: str, near: str | None = None) -> str:
        self.counters[role] += 1
        pid = f"{role}-{self.counters[role]:05d}"
        rng = self.rng
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        member: dict[str, Any] = {"id": pid, "name": name, "email": f"{pid}@example.org"}
        zone = self.zone(region, near)
        if zone is not None:
            member["timezone"] = zone
        if rng.random() >= 0.30:
            member["weekly"] = self.weekly()
        unavailable = []
        if rng.random() < 0.25:
            unavailable.append(self.vacation())
        if rng.random() < 0.15:
            unavailable += [
                self.one_off(8 * 60, 17 * 60, 60, 240) for _ in range(rng.randint(1, 3))
            ]
        if unavailable:
            member["unavailable"] = unavailable
        if rng.random() < 0.10:
            member["available"] = [
                self.one_off(8 * 60, 19 * 60, 120, 240) for _ in range(rng.randint(1, 2))
            ]
        self.members[pid] = member
        return pid

    def weekly(self) -> list[dict[str, Any]]:
        """Working-hours style windows on 15-minute boundaries, some in the evening."""
        rng = self.rng
        windows = []
        for _ in range(rng.choices((1, 2, 3), (55, 35, 10))[0]):
            days = sorted(rng.sample(range(5), rng.randint(2, 5)))
            if rng.random() < 0.10:
                days.append(rng.choice((5, 6)))
            if rng.random() < 0.15:  # evening, after work
                start = rng.randint(18 * 4, 20 * 4)
                length = rng.randint(2 * 4, 3 * 4)
            else:
                start = round(rng.triangular(7 * 4, 18 * 4, 9 * 4))
                length = rng.randint(2 * 4, 8 * 4)
            end = min(start + length, 96)
            windows.append(
                {
                    "days": [DAYS[d] for d in days],
                    "start": format_clock(start * 15),
                    "end": format_clock(end * 15),
                }
            )
        return windows

    def vacation(self) -> dict[str, str]:
        """One or two weeks away; half written as dates, half as local midnights."""
        rng = self.rng
        first = self.start + timedelta(days=rng.randint(-3, self.days - 5))
        last = first + timedelta(days=rng.randint(7, 14))
        if rng.random() < 0.5:
            return {"start": first.isoformat(), "end": last.isoformat()}
        return {"start": f"{first.isoformat()}T00:00", "end": f"{last.isoformat()}T00:00"}

    def one_off(self, earliest: int, latest: int, shortest: int, longest: int) -> dict[str, str]:
        """A local interval on a random day, quarter-hour aligned."""
        rng = self.rng
        day = self.start + timedelta(days=rng.randrange(self.days))
        begin = rng.randrange(earliest, latest, 15)
        length = rng.randrange(shortest, longest + 1, 15)
        a = datetime.combine(day, time()) + timedelta(minutes=begin)
        b = a + timedelta(minutes=length)
        return {"start": a.isoformat(timespec="minutes"), "end": b.isoformat(timespec="minutes")}

    # -- structure --------------------------------------------------------------------

    def cohort_size(self) -> int:
        """Mentors per cohort: mostly a handful, a few large tracks."""
        rng = self.rng
        kind = rng.choices(("small", "medium", "large"), (60, 30, 10))[0]
        return {
            "small": rng.randint(1, 3),
            "medium": rng.randint(4, 10),
            "large": rng.randint(11, 30),
        }[kind]

    def cohorts(self, n_pairs: int) -> list[_Cohort]:
        rng, out, left = self.rng, [], n_pairs
        while left > 0:
            cohort = _Cohort(rng.choices(list(REGIONS), list(REGIONS.values()))[0])
            for _ in range(self.cohort_size()):
                if left <= 0:
                    break
                mentor = self.person("mentor", cohort.region)
                cohort.mentors.append(mentor)
                zone = self.members[mentor].get("timezone")
                for _ in range(min(rng.randint(2, 5), left)):
                    mentee = self.person("mentee", cohort.region, near=zone)
                    cohort.mentees.append(mentee)
                    cohort.pairs.append((mentor, mentee))
                    left -= 1
            out.append(cohort)
        return out

    def place_groups(self, cohorts: list[_Cohort], n_groups: int, n_pairs: int) -> None:
        """Groups go to cohorts by size; some of the cohort's mentees take seats in them."""
        rng, cfg = self.rng, self.cfg
        seat_goal: dict[int, int] = {}  # id(group seats) -> members wanted (4-8)
        for home in rng.choices(cohorts, [len(c.mentees) for c in cohorts], k=n_groups):
            home.groups.append([])
            seat_goal[id(home.groups[-1])] = rng.randint(4, 8)
        # Mentees who also join a group: drawn only where groups exist, at most half a group.
        target = round(cfg["mentee_group_share"] * n_pairs)
        pool = [(c, m) for c in cohorts if c.groups for m in c.mentees]
        rng.shuffle(pool)
        for cohort, mentee in pool:
            if target <= 0:
                break
            open_groups = [g for g in cohort.groups if len(g) < (seat_goal[id(g)] + 1) // 2]
            if open_groups:
                rng.choice(open_groups).append(mentee)
                target -= 1
        for c in cohorts:
            for g in c.groups:
                while len(g) < seat_goal[id(g)]:
                    g.append(self.person("peer", c.region))
                c.facilitators.append(self.facilitator(c))

    def facilitator(self, cohort: _Cohort) -> str:
        """A mentor of the cohort, a facilitator already running one group, or someone new."""
        rng = self.rng
        free_mentors = [m for m in cohort.mentors if m not in cohort.facilitators]
        if free_mentors and rng.random() < self.cfg["facilitator_mentor_share"]:
            return rng.choice(free_mentors)
        counts = Counter(cohort.facilitators)
        once = [f for f in counts if counts[f] == 1 and f.startswith("facilitator-")]
        if once and rng.random() < 0.2:
            return rng.choice(once)
        return self.person("facilitator", cohort.region)

    # -- matches ----------------------------------------------------------------------

    def match(
        self, mid: str, members: list[str], duration: int, weekly_share: float
    ) -> dict[str, Any]:
        rng, cfg = self.rng, self.cfg
        weekly = rng.random() < weekly_share
        match: dict[str, Any] = {
            "id": mid,
            "members": members,
            "organizer": members[0],
            "duration_minutes": duration,
            "frequency": "weekly" if weekly else "biweekly",
        }
        delay_weeks = rng.choice((1, 2)) if rng.random() < 0.10 else 0
        # Every occurrence must fit the horizon (SPEC 4), so later starts mean fewer sessions.
        weeks_left = cfg["weeks"] - delay_weeks
        match["sessions"] = min(cfg["sessions"], weeks_left if weekly else weeks_left // 2)
        if delay_weeks:
            match["earliest_start"] = (self.start + timedelta(weeks=delay_weeks)).isoformat()
        if rng.random() < 0.20:
            match["preferred"] = self.preferred()
        if rng.random() < 0.6:
            match["conferencing"] = {"video_url": f"https://meet.example.org/{mid}"}
        elif rng.random() < 0.25:
            match["conferencing"] = {"location": "Community hub, room 2"}
        agenda = rng.choice(AGENDAS)
        if agenda:
            match["agenda"] = agenda
        return match

    def preferred(self) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        if rng.random() < 0.7:
            out["days"] = [DAYS[d] for d in sorted(rng.sample(range(5), rng.randint(1, 3)))]
        if not out or rng.random() < 0.6:
            start = rng.choice((8, 9, 10, 12, 13, 14, 16)) * 60
            end = start + rng.choice((120, 180, 240))
            out["start"], out["end"] = format_clock(start), format_clock(end)
        return out

    def booking(self, match: dict[str, Any], zone: ZoneInfo) -> dict[str, str]:
        """A kickoff already fixed in the first week, in program-local time or UTC."""
        rng = self.rng
        day = self.start + timedelta(days=rng.randint(1, 4))
        local = datetime.combine(day, time(rng.randint(10, 15)))
        end = local + timedelta(minutes=match["duration_minutes"])
        if rng.random() < 0.5:
            return {
                "match": match["id"],
                "start": local.isoformat(timespec="minutes"),
                "end": end.isoformat(timespec="minutes"),
            }
        utc = [
            t.replace(tzinfo=zone).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for t in (local, end)
        ]
        return {"match": match["id"], "start": utc[0], "end": utc[1]}

    def add_caps(self, mentors: list[str], matches: list[dict[str, Any]]) -> None:
        """Some mentors cap their sessions a week (2-4), never below what they signed up
        for: a mentor with five weekly mentees does not set a cap of two. The cap still
        binds when biweekly series land in the same week."""
        rng = self.rng
        load: Counter[str] = Counter()
        for x in matches:
            for p in x["members"]:
                load[p] += 2 if x["frequency"] == "weekly" else 1  # half-sessions a week
        fits = [m for m in mentors if (load[m] + 1) // 2 <= 4]
        for mentor in rng.sample(
            fits, min(len(fits), max(1, round(self.cfg["cap_share"] * len(mentors))))
        ):
            self.members[mentor]["max_sessions_per_week"] = rng.randint(
                max(2, (load[mentor] + 1) // 2), 4
            )

    # -- the dense family and large components ---------------------------------------

    def dense(
        self, n_pairs: int, n_groups: int
    ) -> tuple[list[tuple[str, str]], list[tuple[str, list[str]]], list[str]]:
        """``people`` people in one region share every match: a quarter are mentors, each
        pair a mentor and a mentee not yet paired (while there are any), each group a
        mentor facilitating 4-8 others."""
        rng, n_people = self.rng, self.cfg["people"]
        region = rng.choices(list(REGIONS), list(REGIONS.values()))[0]
        mentors = [self.person("mentor", region) for _ in range(max(1, n_people // 4))]
        mentees = [self.person("mentee", region) for _ in range(n_people - len(mentors))]
        everyone = mentors + mentees
        pairs: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for i in range(n_pairs):
            pair = (mentors[i % len(mentors)], rng.choice(mentees))
            for _ in range(10):  # a new pair when one is easy to find
                if pair not in seen:
                    break
                pair = (pair[0], rng.choice(mentees))
            seen.add(pair)
            pairs.append(pair)
        groups = []
        for _ in range(n_groups):
            fac = rng.choice(mentors)
            others = [p for p in everyone if p != fac]
            groups.append((fac, rng.sample(others, min(len(others), rng.randint(4, 8)))))
        return pairs, groups, mentors

    def popular_mentor(self, matches: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        """One mentor in ``n`` 1-on-1 matches with the program's mentees (new ones when
        there are too few): their components become one."""
        rng = self.rng
        mentor = self.person("mentor", rng.choice(list(REGIONS)))
        zone = self.members[mentor].get("timezone")
        mentees = sorted({p for x in matches for p in x["members"] if p.startswith("mentee-")})
        chosen = rng.sample(mentees, min(n, len(mentees)))
        region = rng.choice(list(REGIONS))
        chosen += [self.person("mentee", region, near=zone) for _ in range(n - len(chosen))]
        return [
            self.match(f"popular-{i:04d}", [mentor, mentee], 60, 0.8)
            for i, mentee in enumerate(chosen, 1)
        ]

    def big_group(
        self, matches: list[dict[str, Any]], mentors: list[str], n: int
    ) -> dict[str, Any]:
        """One group series of a cohort of ``n`` of the program's people (new peers when
        there are too few), facilitated by a mentor."""
        rng = self.rng
        fac = rng.choice(mentors) if mentors else self.person("facilitator", "americas")
        people = sorted({p for x in matches for p in x["members"]} - {fac})
        seats = rng.sample(people, min(n, len(people)))
        region = rng.choice(list(REGIONS))
        seats += [self.person("peer", region) for _ in range(n - len(seats))]
        return self.match("cohort-0001", [fac, *seats], 60, 0.7)

    def build(self) -> dict[str, Any]:
        cfg, rng = self.cfg, self.rng
        n = cfg["matches"]
        n_groups = round(n * cfg["group_share"])
        if n >= 8 and cfg["group_share"] > 0:
            n_groups = max(n_groups, 1)
        n_pairs = n - n_groups
        if cfg["people"]:
            pairs, groups, mentors = self.dense(n_pairs, n_groups)
        else:
            cohorts = self.cohorts(n_pairs)
            if n_groups:
                self.place_groups(cohorts, n_groups, n_pairs)
            pairs = [p for c in cohorts for p in c.pairs]
            groups = [
                (fac, seats)
                for c in cohorts
                for seats, fac in zip(c.groups, c.facilitators, strict=True)
            ]
            mentors = [m for c in cohorts for m in c.mentors]

        matches = []
        for mentor, mentee in pairs:
            matches.append(
                self.match(
                    f"pair-{len(matches) + 1:05d}",
                    [mentor, mentee],
                    rng.choice((60, 60, 60, 45)),
                    0.8,
                )
            )
        for i, (fac, seats) in enumerate(groups, 1):
            matches.append(self.match(f"group-{i:04d}", [fac, *seats], 60, 0.7))
        if cfg["popular_mentor_matches"]:
            matches += self.popular_mentor(matches, cfg["popular_mentor_matches"])
        if cfg["big_group"]:
            matches.append(self.big_group(matches, mentors, cfg["big_group"]))

        self.add_caps(mentors, matches)

        zone = ZoneInfo(cfg["timezone"])
        booked = rng.sample(matches, max(1, round(0.01 * len(matches))))
        return {
            "version": 1,
            "program": {
                "id": f"bench-{len(matches)}",
                "name": f"Benchmark program ({len(matches)} matches)",
                "timezone": cfg["timezone"],
                "start": self.start.isoformat(),
                "end": (self.start + timedelta(days=self.days)).isoformat(),
                "granularity_minutes": cfg["granularity_minutes"],
                "now": f"{self.start.isoformat()}T00:00",
            },
            "members": list(self.members.values()),
            "matches": matches,
            "bookings": [self.booking(m, zone) for m in booked],
        }


def generate_program(size: str | dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """A program document (plain dict, version 1) for a preset ("S", "M", "L") or a size dict."""
    return _ProgramBuilder(_config(size), seed).build()


# -- statistics -------------------------------------------------------------------------


def component_sizes(program: dict[str, Any]) -> list[int]:
    """People per connected component of the person graph (shared matches), largest first."""
    parent = {m["id"]: m["id"] for m in program["members"]}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for match in program["matches"]:
        first = root(match["members"][0])
        for other in match["members"][1:]:
            parent[root(other)] = first
    return sorted(Counter(root(x) for x in parent).values(), reverse=True)


def describe(program: dict[str, Any]) -> dict[str, Any]:
    """Counts that show the structure of a generated program (for reports and tests)."""
    members, matches = program["members"], program["matches"]
    pairs = [x for x in matches if len(x["members"]) == 2]
    groups = [x for x in matches if len(x["members"]) > 2]
    per_person = Counter(p for x in matches for p in x["members"])
    in_pair = {p for x in pairs for p in x["members"]}
    in_group = {p for x in groups for p in x["members"]}
    mentors = {x["organizer"] for x in pairs}
    mentees = in_pair - mentors
    sizes = component_sizes(program)
    buckets = {
        "1-2": (1, 2),
        "3-6": (3, 6),
        "7-20": (7, 20),
        "21-50": (21, 50),
        "51-100": (51, 100),
        ">100": (101, 10**9),
    }
    return {
        "members": len(members),
        "matches": len(matches),
        "pairs": len(pairs),
        "groups": len(groups),
        "mentors": len(mentors),
        "mentees": len(mentees),
        "mentees_in_groups": len(mentees & in_group),
        "facilitators_who_mentor": len({x["organizer"] for x in groups} & mentors),
        "people_in_several_matches": sum(1 for c in per_person.values() if c > 1),
        "time_zones": len({m.get("timezone") for m in members} - {None}),
        "without_weekly": sum(1 for m in members if not m.get("weekly")),
        "with_unavailable": sum(1 for m in members if m.get("unavailable")),
        "capped": sum(1 for m in members if m.get("max_sessions_per_week") is not None),
        "preferred": sum(1 for x in matches if "preferred" in x),
        "earliest_start": sum(1 for x in matches if "earliest_start" in x),
        "biweekly": sum(1 for x in matches if x["frequency"] == "biweekly"),
        "bookings": len(program.get("bookings", [])),
        "components": len(sizes),
        "largest_component": sizes[0] if sizes else 0,
        "median_component": sizes[len(sizes) // 2] if sizes else 0,
        "component_histogram": {
            k: sum(1 for s in sizes if lo <= s <= hi) for k, (lo, hi) in buckets.items()
        },
    }


# -- ICS calendars ----------------------------------------------------------------------

# zone -> (Windows name, standard offset, daylight offset, std name, dst name,
#          (month, BYDAY, time) daylight starts, (month, BYDAY, time) standard starts)
_VTZ: dict[str, tuple[Any, ...]] = {
    "America/New_York": (
        "Eastern Standard Time",
        "-0500",
        "-0400",
        "EST",
        "EDT",
        (3, "2SU", "020000"),
        (11, "1SU", "020000"),
    ),
    "America/Chicago": (
        "Central Standard Time",
        "-0600",
        "-0500",
        "CST",
        "CDT",
        (3, "2SU", "020000"),
        (11, "1SU", "020000"),
    ),
    "America/Los_Angeles": (
        "Pacific Standard Time",
        "-0800",
        "-0700",
        "PST",
        "PDT",
        (3, "2SU", "020000"),
        (11, "1SU", "020000"),
    ),
    "Europe/London": (
        "GMT Standard Time",
        "+0000",
        "+0100",
        "GMT",
        "BST",
        (3, "-1SU", "010000"),
        (10, "-1SU", "020000"),
    ),
    "Europe/Berlin": (
        "W. Europe Standard Time",
        "+0100",
        "+0200",
        "CET",
        "CEST",
        (3, "-1SU", "020000"),
        (10, "-1SU", "030000"),
    ),
    "Asia/Kolkata": ("India Standard Time", "+0530", None, "IST", None, None, None),
    "Asia/Singapore": ("Singapore Standard Time", "+0800", None, "+08", None, None, None),
    "Australia/Sydney": (
        "AUS Eastern Standard Time",
        "+1000",
        "+1100",
        "AEST",
        "AEDT",
        (10, "1SU", "020000"),
        (4, "1SU", "030000"),
    ),
}
_ICS_ZONE_WEIGHTS = {
    "America/New_York": 22,
    "America/Chicago": 10,
    "America/Los_Angeles": 12,
    "Europe/London": 12,
    "Europe/Berlin": 12,
    "Asia/Kolkata": 12,
    "Asia/Singapore": 10,
    "Australia/Sydney": 10,
}
_PRODID = {
    "google": "-//Google Inc//Google Calendar 70.9054//EN",
    "outlook": "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
    "apple": "-//Apple Inc.//macOS 14.5//EN",
}
_SUMMARIES = (
    "Team sync",
    "1:1 with manager",
    "Design review",
    "Lunch",
    "Dentist",
    "Customer call",
    "Sprint planning",
    "Focus time",
    "Gym",
    "School pickup",
    "Café with Zoë",
    "Quarterly review\\, Q1",
    "Interview panel",
    "Flight",
)
_LONG_NOTE = (
    "Agenda: updates from every team, blockers, decisions to record; join from the "
    "link below or dial in. Notes go to the shared folder afterwards."
)


def _fold(line: str) -> list[str]:
    """RFC 5545 folding: at most 75 octets a line, never splitting a UTF-8 character."""
    out, current, size = [], "", 0
    for ch in line:
        n = len(ch.encode())
        if size + n > 75:
            out.append(current)
            current, size = " ", 1
        current += ch
        size += n
    return [*out, current]


def _vtimezone(zone: str, tzid: str, outlook: bool) -> list[str]:
    _win, std, dst, std_name, dst_name, dst_rule, std_rule = _VTZ[zone]
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    if dst is None:
        return [
            *lines,
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000" if outlook else "DTSTART:19700101T000000",
            f"TZOFFSETFROM:{std}",
            f"TZOFFSETTO:{std}",
            f"TZNAME:{std_name}",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    for kind, name, frm, to, (month, byday, at) in (
        ("DAYLIGHT", dst_name, std, dst, dst_rule),
        ("STANDARD", std_name, dst, std, std_rule),
    ):
        start = f"16010101T{at}" if outlook else f"{_nth_weekday(1970, month, byday)}T{at}"
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{start}",
            f"TZOFFSETFROM:{frm}",
            f"TZOFFSETTO:{to}",
            f"RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={byday}",
            f"TZNAME:{name}",
            f"END:{kind}",
        ]
    return [*lines, "END:VTIMEZONE"]


def _nth_weekday(year: int, month: int, byday: str) -> str:
    """``2SU`` / ``-1SU`` of a month as YYYYMMDD (Sunday only, as the rules above use)."""
    n = int(byday[:-2])
    first = date(year, month, 1)
    sundays = [
        first + timedelta(days=i)
        for i in range(31)
        if (first + timedelta(days=i)).month == month and (first + timedelta(days=i)).weekday() == 6
    ]
    return sundays[n - 1 if n > 0 else n].strftime("%Y%m%d")


class _CalendarBuilder:
    """One member's exported calendar in the style of Google, Outlook or Apple."""

    def __init__(self, rng: random.Random, index: int, start: date, weeks: int) -> None:
        self.rng, self.index, self.start, self.weeks = rng, index, start, weeks
        self.zone = rng.choices(list(_ICS_ZONE_WEIGHTS), list(_ICS_ZONE_WEIGHTS.values()))[0]
        self.style = rng.choices(("google", "outlook", "apple"), (45, 30, 25))[0]
        self.tzid = _VTZ[self.zone][0] if self.style == "outlook" else self.zone
        self.events: list[list[str]] = []

    def form(self, *, utc_ok: bool = True) -> str:
        """How this style writes an event's times: ``utc``, ``floating`` or ``tzid``."""
        if self.style == "google" and utc_ok:
            return "utc"
        if self.style == "apple" and utc_ok and self.rng.random() < 0.1:
            return "floating"  # the reader's zone applies
        return "tzid"

    def stamp(self, local: datetime, form: str = "tzid", prop: str = "DTSTART") -> str:
        """A local wall-clock time in this calendar's zone, written in ``form``."""
        if form == "utc":
            moment = local.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)
            return f"{prop}:{moment.strftime('%Y%m%dT%H%M%SZ')}"
        text = local.strftime("%Y%m%dT%H%M%S")
        return f"{prop}:{text}" if form == "floating" else f"{prop};TZID={self.tzid}:{text}"

    def head(self, n: int, summary: str) -> list[str]:
        lines = [
            f"UID:{self.index:05d}-{n:03d}-{self.rng.getrandbits(32):08x}@bench.slotwise",
            "DTSTAMP:20261201T120000Z",
            f"SUMMARY:{summary}",
        ]
        if self.rng.random() < 0.15:
            lines.append(f"DESCRIPTION:{_LONG_NOTE}")
        if self.rng.random() < 0.2:
            lines.append("LOCATION:Room 4.12\\, Main building")
        return lines

    def moment(self, margin_days: int = 7) -> datetime:
        rng = self.rng
        day = self.start + timedelta(
            days=rng.randint(-margin_days, self.weeks * 7 + margin_days - 1)
        )
        if day.weekday() >= 5 and rng.random() < 0.8:
            day -= timedelta(days=day.weekday() - 4)
        return datetime.combine(day, time()) + timedelta(minutes=rng.randrange(7 * 60, 19 * 60, 15))

    def single(self, n: int, extra: tuple[str, ...] = ()) -> None:
        rng = self.rng
        begin = self.moment()
        length = rng.choice((30, 30, 45, 60, 60, 60, 90, 120))
        form = self.form()
        ev = [*self.head(n, rng.choice(_SUMMARIES)), self.stamp(begin, form)]
        if rng.random() < 0.1:
            ev.append(
                f"DURATION:PT{length // 60}H{length % 60}M"
                if length % 60
                else f"DURATION:PT{length // 60}H"
            )
        else:
            ev.append(self.stamp(begin + timedelta(minutes=length), form, prop="DTEND"))
        self.events.append([*ev, *extra])

    def all_day(self, n: int) -> None:
        rng = self.rng
        day = self.moment().date()
        summary = rng.choice(("Out of office", "Conference", "Public holiday", "Birthday"))
        ev = [
            *self.head(n, summary),
            f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(day + timedelta(days=rng.randint(1, 5))).strftime('%Y%m%d')}",
        ]
        if summary in ("Birthday", "Public holiday") or rng.random() < 0.2:
            ev.append("TRANSP:TRANSPARENT")
        self.events.append(ev)

    def weekly(self, n: int) -> int:
        """A weekly meeting (RRULE) with EXDATEs and sometimes a moved occurrence."""
        rng = self.rng
        first_day = self.start + timedelta(days=rng.randint(-14, 13))
        if first_day.weekday() >= 5:
            first_day += timedelta(days=7 - first_day.weekday())
        begin = datetime.combine(first_day, time(rng.randint(8, 17), rng.choice((0, 30))))
        length = rng.choice((30, 45, 60, 60, 90))
        standup = rng.random() < 0.2
        if standup:
            days, length = "MO,TU,WE,TH,FR", 15
            begin = begin.replace(hour=9, minute=30)
        else:
            other = DAYS[(first_day.weekday() + 2) % 5]
            days = DAYS[first_day.weekday()] + ("," + other if rng.random() < 0.3 else "")
        interval = 2 if not standup and rng.random() < 0.2 else 1
        rule = f"RRULE:FREQ=WEEKLY;BYDAY={days}" + (f";INTERVAL={interval}" if interval > 1 else "")
        if rng.random() < 0.5:
            rule += f";COUNT={rng.randint(10, 40)}"
        else:
            # Past the last EXDATE / moved occurrence (at most 8 weeks in), so both are real.
            until = begin + timedelta(weeks=rng.randint(9, self.weeks + 4))
            until_utc = until.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)
            rule += f";UNTIL={until_utc.strftime('%Y%m%dT%H%M%SZ')}"
        summary = "Daily standup" if standup else rng.choice(_SUMMARIES)
        ev = [
            *self.head(n, summary),
            self.stamp(begin),
            self.stamp(begin + timedelta(minutes=length), prop="DTEND"),
            rule,
        ]
        skipped = rng.sample(range(1, 5), rng.randint(0, 2))
        for k in skipped:
            ev.append(self.stamp(begin + timedelta(weeks=k * interval), prop="EXDATE"))
        self.events.append(ev)
        moved = [k for k in range(1, 5) if k not in skipped]
        if not moved or rng.random() >= 0.35:
            return 1
        original = begin + timedelta(weeks=rng.choice(moved) * interval)
        new = original + timedelta(hours=rng.choice((-2, -1, 1, 2)))
        uid = ev[0]
        self.events.append(
            [
                uid,
                "DTSTAMP:20261201T120000Z",
                f"SUMMARY:{summary} (moved)",
                self.stamp(original, prop="RECURRENCE-ID"),
                self.stamp(new),
                self.stamp(new + timedelta(minutes=length), prop="DTEND"),
                "SEQUENCE:1",
            ]
        )
        return 2

    def build(self) -> str:
        rng = self.rng
        target, n = rng.randint(50, 100), 0
        kinds = ("single", "weekly", "all_day", "transparent", "cancelled")
        while n < target:
            kind = rng.choices(kinds, (70, 10, 8, 7, 5))[0]
            if kind == "weekly":
                n += self.weekly(n)
                continue
            if kind == "all_day":
                self.all_day(n)
            else:
                self.single(
                    n,
                    {
                        "single": ("STATUS:CONFIRMED",),
                        "transparent": ("TRANSP:TRANSPARENT",),
                        "cancelled": ("STATUS:CANCELLED",),
                    }[kind],
                )
            n += 1
        lines = [
            "BEGIN:VCALENDAR",
            f"PRODID:{_PRODID[self.style]}",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
        ]
        if self.style == "google":
            lines += [
                "METHOD:PUBLISH",
                f"X-WR-CALNAME:member{self.index}@example.org",
                f"X-WR-TIMEZONE:{self.zone}",
            ]
        else:
            if self.style == "apple" and rng.random() < 0.5:
                lines.append(f"X-WR-TIMEZONE:{self.zone}")
            lines += _vtimezone(self.zone, self.tzid, outlook=self.style == "outlook")
        for ev in self.events:
            lines += ["BEGIN:VEVENT", *ev, "END:VEVENT"]
        lines.append("END:VCALENDAR")
        return "".join(f"{part}\r\n" for line in lines for part in _fold(line))


def generate_ics_calendars_with_zones(
    n: int, seed: int, start: date, weeks: int
) -> list[tuple[str, str]]:
    """``n`` calendars as ``(ics_text, owner_zone)``; calendar ``i`` does not depend on ``n``."""
    out = []
    for i in range(n):
        builder = _CalendarBuilder(random.Random(f"{seed}:ics:{i}"), i, start, weeks)
        out.append((builder.build(), builder.zone))
    return out


def generate_ics_calendars(n: int, seed: int, start: date, weeks: int) -> list[str]:
    """``n`` realistic ICS exports (50-100 VEVENTs each) around ``weeks`` weeks from ``start``."""
    return [text for text, _ in generate_ics_calendars_with_zones(n, seed, start, weeks)]


# -- command line -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Write a generated program document.",
        epilog=(
            "size keys (JSON): matches; people (> 0: the dense family, that many people "
            'share every match, e.g. {"people": 60, "matches": 160}); '
            "popular_mentor_matches (one mentor in that many 1-on-1 matches); big_group "
            "(one group series of that many people); and group_share, "
            "mentee_group_share, facilitator_mentor_share, cap_share, sessions, weeks, "
            "granularity_minutes, start, timezone."
        ),
    )
    parser.add_argument(
        "size",
        help="preset S, M or L, or a JSON object like '{\"matches\": 200}' or "
        '\'{"people": 60, "matches": 160}\'',
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    size = json.loads(args.size) if args.size.lstrip().startswith("{") else args.size
    program = generate_program(size, args.seed)
    text = json.dumps(program, ensure_ascii=False, indent=1)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    print(json.dumps(describe(program)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def year_group_program(
    members: int, program_id: str = "year", chopped: bool = False
) -> dict[str, Any]:
    """One group of ``members`` people in six zones over a 366-day horizon on a 5-minute
    grid: the largest heat map a program can ask for (issue 12, item 9). ``chopped``:
    everyone is free for 5 minutes of every 10, every day (the most fragmented free time
    there is, for 5-minute sessions)."""
    zones = [
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Australia/Adelaide",
        "America/Sao_Paulo",
        "Africa/Lagos",
    ]
    people = [
        {
            "id": f"m{i}",
            "timezone": zones[i % len(zones)],
            "weekly": [
                {
                    "days": ["MO", "WE", "FR"][: 1 + i % 3],
                    "start": f"{8 + i % 5:02d}:00",
                    "end": f"{13 + i % 4:02d}:30",
                }
            ],
        }
        for i in range(members)
    ]
    if chopped:
        days = list(DAYS)
        windows = [
            {"days": days, "start": format_clock(m), "end": format_clock(m + 5)}
            for m in range(0, 24 * 60, 10)
        ]
        for p in people:
            p["weekly"] = windows
    return {
        "version": 1,
        "program": {
            "id": program_id,
            "timezone": "Europe/Berlin",
            "start": "2027-01-04",
            "end": "2028-01-05",
            "granularity_minutes": 5,
            "now": "2027-01-04T00:00:00Z",
        },
        "members": people,
        "matches": [
            {
                "id": "all",
                "members": [p["id"] for p in people],
                "organizer": "m0",
                "duration_minutes": 60,
            }
        ],
    }
