# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring availability
#
# Who is free when in a mentoring program, using slotwise's Python API
# (see `docs/python-api.md`):
#
# * `ingest.document.parse_program` / `load_program` read a program document (SPEC 6);
#   `service.client.fetch_program` gets one from a running service;
# * `ingest.availability.build_availability(doc)` gives an `Availability`, and
#   `Availability.to_frame()` a pandas frame: one row per slot (UTC start), one boolean
#   column per member;
# * `solver.heatmap.heatmap(avail, members, duration)` counts who can attend a session at
#   each start, and `solver.frames.heatmap_frame` turns it into times of day × dates or
#   weekdays, in any time zone.
#
# The program here is the demo program the service ships (`slotwise demo`): 16 people in
# a dozen time zones, seven mentoring pairs and two groups, twelve weeks from 11 January 2027.

# %%
from datetime import date

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib_inline.backend_inline import set_matplotlib_formats

from ingest.availability import build_availability
from ingest.document import parse_program
from service.demo import demo_program
from solver.frames import heatmap_frame
from solver.heatmap import heatmap

set_matplotlib_formats("png")
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 100)


def show(fig):
    """Show a figure once, as PNG, whatever the backend (inline in Jupyter, Agg in CI)."""
    display(fig)
    plt.close(fig)

# %% [markdown]
# ## The program and its availability matrix

# %%
# A fixed date, so that every run gives the same program and the same results.
doc = parse_program(demo_program(date(2027, 1, 4)))
avail = build_availability(doc)
zone = doc.program.zone
weeks = (doc.program.end - doc.program.start).days / 7
g = doc.program.granularity_minutes
print(f"{doc.program.name}: {doc.program.start} to {doc.program.end} ({zone.key}), "
      f"{len(doc.members)} members, {len(doc.matches)} matches, {avail.grid.n_slots} slots "
      f"of {g} minutes")

# %%
frame = avail.to_frame()  # slots x members, True = free for the whole slot
frame.loc["2027-01-12 14:00Z":"2027-01-12 15:00Z"]


# %%
def utc_offset_hours(member_id):
    """The member's UTC offset on the program's first day, in hours."""
    moment = avail.grid.t0.astimezone(doc.member_zone(member_id))
    return moment.utcoffset().total_seconds() / 3600


people = pd.DataFrame({
    "name": [m.name for m in doc.members],
    "timezone": [doc.member_zone(m.id).key for m in doc.members],
    "utc_offset_h": [utc_offset_hours(m.id) for m in doc.members],
    "free_h_per_week": (frame.sum() * g / 60 / weeks).round(1).to_numpy(),
    "matches": [", ".join(x.id for x in doc.matches if m.id in x.members) for m in doc.members],
}, index=pd.Index([m.id for m in doc.members], name="member"))
people

# %% [markdown]
# ## Availability by weekday and hour
#
# How many members are free, on average, at each hour of each weekday of the program,
# in the program's zone (New York). The members are spread from Los Angeles to Sydney,
# so the busiest hours are the European afternoon, which is the New York morning.

# %%
local = frame.index.tz_convert(zone)
free_now = frame.sum(axis=1)  # members free in each slot
by_hour = (free_now.groupby([local.hour, local.day_of_week]).mean()
           .unstack().reindex(columns=range(7)))
by_hour.index.name = "hour"
by_hour.columns = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
by_hour.round(1).loc[6:20]


# %%
def plot_table(ax, table, title, label, vmax=None, cmap="Greens"):
    """A times-of-day x columns frame as an image; NaN cells stay blank."""
    image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=0,
                      vmax=vmax, interpolation="nearest")
    rows = max(1, len(table.index) // 12)
    ax.set_yticks(range(0, len(table.index), rows), [str(t) for t in table.index[::rows]],
                  fontsize=8)
    cols = max(1, len(table.columns) // 14)
    ax.set_xticks(range(0, len(table.columns), cols),
                  [str(c) for c in table.columns[::cols]], rotation=90, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, label=label)
    return image


fig, ax = plt.subplots(figsize=(6, 6))
plot_table(ax, by_hour, f"Members free, mean over the program ({zone.key})",
           "members free (mean)")
ax.set_ylabel("hour")
show(fig)

# %% [markdown]
# ## Heat map of a group
#
# The EMEA circle meets for 60 minutes every other week; its organizer, Jo, is in London,
# so the heat map is shown in London time. `heatmap_frame(hm, zone)` has one column per
# date; `by="weekday"` averages the dates of each weekday. Past slots would count 0
# (nobody is available in the past); a cell with no slot (outside the program in this
# zone) is NaN.

# %%
circle = doc.match("circle-emea")
circle_zone = doc.organizer_zone(circle)
hm = heatmap(avail, circle.members, circle.duration_minutes)
by_date = heatmap_frame(hm, circle_zone)
print(f"{len(circle.members)} members; at best {int(hm.counts.max())} can attend at once; "
      f"everyone can at {len(hm.everyone)} start times")
by_date.loc["08:00":"20:00"].iloc[::4, :7]

# %%
fig, ax = plt.subplots(figsize=(11, 6))
plot_table(ax, by_date.loc["06:00":"21:45"],
           f"{circle.id}: who can attend a {circle.duration_minutes}-minute session "
           f"({circle_zone.key})", "members who can attend", vmax=len(circle.members))
ax.set_xlabel("date")
show(fig)

# %%
week = heatmap_frame(hm, circle_zone, by="weekday", value="share")
fig, ax = plt.subplots(figsize=(6, 6))
plot_table(ax, week.loc["06:00":"21:45"], f"{circle.id}: share of members who can attend",
           "share of members (mean over dates)", vmax=1)
show(fig)
best = week.stack().sort_values(ascending=False).head(5).rename("share")
best.round(2).to_frame()


# %% [markdown]
# ## The members hardest to schedule, and why
#
# For each member and each of their matches: how many hours a week they and the people who
# must attend with them (both people of a pair, the organizer of a group) can all start a
# session of the match's length. The tightest match decides how hard the member is to
# schedule. The reasons are what a coordinator can act on: few free hours, narrow
# windows (the longest stretch of free time in a day), or a large time-zone gap to a
# partner.

# %%
def longest_window_hours(column):
    """Longest run of consecutive free slots, in hours."""
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, column.astype(int), 0])))[::2]
    return (runs.max() if len(runs) else 0) * g / 60


rows = []
for m in doc.members:
    for x in (x for x in doc.matches if m.id in x.members):
        with_them = sorted(set(doc.required_members(x)) | {m.id})
        mutual = heatmap(avail, with_them, x.duration_minutes)
        others = [p for p in with_them if p != m.id]
        rows.append({
            "member": m.id, "match": x.id, "with": ", ".join(others) or "(organizer)",
            "mutual_h_per_week": len(mutual.everyone) * g / 60 / weeks,
            "zone_gap_h": max((abs(utc_offset_hours(p) - utc_offset_hours(m.id))
                               for p in others), default=0.0),
        })
pairs = pd.DataFrame(rows)
tightest = pairs.loc[pairs.groupby("member")["mutual_h_per_week"].idxmin()].set_index("member")
hard = people[["timezone", "free_h_per_week"]].join(tightest)
hard["longest_window_h"] = [longest_window_hours(avail.column(m)) for m in hard.index]


def why(row):
    reasons = []
    if row.free_h_per_week < 10:
        reasons.append(f"few free hours ({row.free_h_per_week:.1f} h/week)")
    if row.longest_window_h <= 3:
        reasons.append(f"narrow windows (at most {row.longest_window_h:g} h)")
    if row.zone_gap_h >= 3:
        reasons.append(f"{row.zone_gap_h:g} h zone gap to {row['with']}")
    if row.mutual_h_per_week == 0:
        reasons.append(f"never free together with {row['with']} for {row.match}")
    return "; ".join(reasons) or "-"


hard["why"] = hard.apply(why, axis=1)
hard = hard.sort_values("mutual_h_per_week")
hard.round(1).head(8)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
colors = plt.cm.viridis(hard.zone_gap_h / max(hard.zone_gap_h.max(), 1))
left.barh(hard.index, hard.mutual_h_per_week, color=colors)
left.invert_yaxis()
left.set_xlabel("hours a week to start a session in the tightest match")
left.set_title("Hardest to schedule first (colour: time-zone gap)", fontsize=10)
right.scatter(hard.zone_gap_h, hard.mutual_h_per_week, s=20 + 8 * hard.longest_window_h,
              c=hard.free_h_per_week, cmap="Greens", edgecolors="k")
for member, row in hard.iterrows():
    right.annotate(member, (row.zone_gap_h, row.mutual_h_per_week), fontsize=8,
                   xytext=(4, 2), textcoords="offset points")
right.set_xlabel("time-zone gap to the partner (h)")
right.set_ylabel("mutual hours a week")
right.set_title("Why: zone gap (x); dot size = longest window; colour = free hours",
                fontsize=10)
fig.tight_layout()
show(fig)

# %% [markdown]
# ## A mentor with each mentee
#
# Ben (New York) mentors Ana and Max one-on-one and leads the Americas circle. For each
# person he meets, the mutual availability for a 60-minute session, in Ben's zone:
# `value="everyone"` marks the times both can attend, and `by="weekday"` turns that into
# the fraction of weeks in which they can meet then.

# %%
mentor = "ben"
mentor_zone = doc.member_zone(mentor)
mentees = sorted({p for x in doc.matches if mentor in x.members for p in x.members} - {mentor})
mutual = {p: heatmap(avail, [mentor, p], 60) for p in mentees}


def best_time(mentee):
    """The weekday and time at which the two can meet in most weeks (None if never)."""
    weeks_free = heatmap_frame(mutual[mentee], mentor_zone, by="weekday", value="everyone")
    stacked = weeks_free.stack()
    return " ".join(stacked.idxmax()[::-1]) if stacked.max() > 0 else None


summary = pd.DataFrame({
    "timezone": [doc.member_zone(p).key for p in mentees],
    "mutual_h_per_week": [len(mutual[p].everyone) * g / 60 / weeks for p in mentees],
    "best_weekly_time": [best_time(p) for p in mentees],
}, index=pd.Index(mentees, name="mentee"))
summary.round(1)

# %%
fig, axes = plt.subplots(1, len(mentees), figsize=(3.2 * len(mentees), 5), sharey=True)
for ax, p in zip(axes, mentees, strict=True):
    table = heatmap_frame(mutual[p], mentor_zone, by="weekday", value="everyone")
    table = table.loc["06:00":"21:45", ["Mon", "Tue", "Wed", "Thu", "Fri"]]
    ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="Greens", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks(range(len(table.columns)), table.columns, fontsize=8)
    ax.set_yticks(range(0, len(table.index), 8), table.index[::8], fontsize=8)
    ax.set_title(f"{mentor} + {p} ({summary.mutual_h_per_week[p]:.1f} h/week)", fontsize=9)
fig.suptitle(f"Weeks in which both can attend 60 minutes ({mentor_zone.key})", fontsize=10)
fig.tight_layout()
show(fig)
