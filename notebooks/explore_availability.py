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
# * `parse_program` / `load_program` read a program document (SPEC 6);
#   `service.client.fetch_program` gets one from a running service;
# * `build_availability(doc)` gives an `Availability`, and `Availability.to_frame()` a
#   pandas frame: one row per slot (UTC start), one boolean column per member;
# * `heatmap(avail, members, duration)` counts who can attend a session at each start, and
#   `heatmap_frame` turns it into times of day × dates or weekdays, in any time zone;
# * `hardest_to_schedule(doc, avail)` ranks the members by how hard they are to schedule,
#   and why.
#
# The first two come from `ingest`, the others from `solver`.
#
# The program here is the demo program the service ships (`slotwise demo`): 16 people in
# a dozen time zones, seven mentoring pairs and two groups, twelve weeks from 11 January 2027.

# %%
from datetime import date

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib_inline.backend_inline import set_matplotlib_formats

from ingest import build_availability, parse_program, utc_offset_hours
from service.demo import demo_program
from solver import (
    best_weekly_time,
    hardest_to_schedule,
    heatmap_frame,
    plot_frame,
    show,
)
from solver.heatmap import heatmap

set_matplotlib_formats("png")
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 100)

# %% [markdown]
# ## The program and its availability matrix

# %%
# A fixed date, so that every run gives the same program and the same results.
doc = parse_program(demo_program(date(2027, 1, 4)))
avail = build_availability(doc)
zone = doc.program.zone
weeks = (doc.program.end - doc.program.start).days / 7
g = doc.program.granularity_minutes
print(
    f"{doc.program.name}: {doc.program.start} to {doc.program.end} ({zone.key}), "
    f"{len(doc.members)} members, {len(doc.matches)} matches, {avail.grid.n_slots} slots "
    f"of {g} minutes"
)

# %%
frame = avail.to_frame()  # slots x members, True = free for the whole slot
frame.loc["2027-01-12 14:00Z":"2027-01-12 15:00Z"]


# %%
people = pd.DataFrame(
    {
        "name": [m.name for m in doc.members],
        "timezone": [doc.member_zone(m.id).key for m in doc.members],
        "utc_offset_h": [utc_offset_hours(doc, m.id, avail.grid.t0) for m in doc.members],
        "free_h_per_week": (frame.sum() * g / 60 / weeks).round(1).to_numpy(),
        "matches": [", ".join(x.id for x in doc.matches if m.id in x.members) for m in doc.members],
    },
    index=pd.Index([m.id for m in doc.members], name="member"),
)
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
by_hour = (
    free_now.groupby([local.hour, local.day_of_week]).mean().unstack().reindex(columns=range(7))
)
by_hour.index.name = "hour"
by_hour.columns = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
by_hour.round(1).loc[6:20]


# %%
fig, ax = plt.subplots(figsize=(6, 6))
plot_frame(ax, by_hour, f"Members free, mean over the program ({zone.key})", "members free (mean)")
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
print(
    f"{len(circle.members)} members; at best {int(hm.counts.max())} can attend at once; "
    f"everyone can at {len(hm.everyone)} start times"
)
by_date.loc["08:00":"20:00"].iloc[::4, :7]

# %%
fig, ax = plt.subplots(figsize=(11, 6))
plot_frame(
    ax,
    by_date.loc["06:00":"21:45"],
    f"{circle.id}: who can attend a {circle.duration_minutes}-minute session ({circle_zone.key})",
    "members who can attend",
    vmax=len(circle.members),
)
ax.set_xlabel("date")
show(fig)

# %%
week = heatmap_frame(hm, circle_zone, by="weekday", value="share")
fig, ax = plt.subplots(figsize=(6, 6))
plot_frame(
    ax,
    week.loc["06:00":"21:45"],
    f"{circle.id}: share of members who can attend",
    "share of members (mean over dates)",
    vmax=1,
)
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
hard = hardest_to_schedule(doc, avail)
hard.round(1).head(8)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
colors = plt.cm.viridis(hard.zone_gap_h / max(hard.zone_gap_h.max(), 1))
left.barh(hard.index, hard.mutual_h_per_week, color=colors)
left.invert_yaxis()
left.set_xlabel("hours a week to start a session in the tightest match")
left.set_title("Hardest to schedule first (colour: time-zone gap)", fontsize=10)
right.scatter(
    hard.zone_gap_h,
    hard.mutual_h_per_week,
    s=20 + 8 * hard.longest_window_h,
    c=hard.free_h_per_week,
    cmap="Greens",
    edgecolors="k",
)
for member, row in hard.iterrows():
    right.annotate(
        member,
        (row.zone_gap_h, row.mutual_h_per_week),
        fontsize=8,
        xytext=(4, 2),
        textcoords="offset points",
    )
right.set_xlabel("time-zone gap to the partner (h)")
right.set_ylabel("mutual hours a week")
right.set_title("Why: zone gap (x); dot size = longest window; colour = free hours", fontsize=10)
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
summary = pd.DataFrame(
    {
        "timezone": [doc.member_zone(p).key for p in mentees],
        "mutual_h_per_week": [len(mutual[p].everyone) * g / 60 / weeks for p in mentees],
        "best_weekly_time": [best_weekly_time(mutual[p], mentor_zone) for p in mentees],
    },
    index=pd.Index(mentees, name="mentee"),
)
summary.round(1)

# %%
fig, axes = plt.subplots(1, len(mentees), figsize=(3.2 * len(mentees), 5), sharey=True)
for ax, p in zip(axes, mentees, strict=True):
    table = heatmap_frame(mutual[p], mentor_zone, by="weekday", value="everyone")
    table = table.loc["06:00":"21:45", ["Mon", "Tue", "Wed", "Thu", "Fri"]]
    ax.imshow(
        table.to_numpy(dtype=float),
        aspect="auto",
        cmap="Greens",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_xticks(range(len(table.columns)), table.columns, fontsize=8)
    ax.set_yticks(range(0, len(table.index), 8), table.index[::8], fontsize=8)
    ax.set_title(f"{mentor} + {p} ({summary.mutual_h_per_week[p]:.1f} h/week)", fontsize=9)
fig.suptitle(f"Weeks in which both can attend 60 minutes ({mentor_zone.key})", fontsize=10)
fig.tight_layout()
show(fig)
