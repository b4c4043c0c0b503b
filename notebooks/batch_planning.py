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
# # Batch planning
#
# Plan every match of a program together (SPEC 5) with `solver.plan`, and compare it
# with first-come-first-served booking (`first_come_first_served`: each match in turn takes
# its best series that still fits, as booking tools do). `solver.plan_frames` turns
# a plan into frames: one row per series, one row per occurrence (with how many attend and
# who is missing), and the unscheduled matches with their reasons.

# %%
from datetime import date

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib_inline.backend_inline import set_matplotlib_formats

from ingest import build_availability, parse_program, with_weekly_cap
from service.demo import demo_program
from solver import (
    first_come_first_served_frame,
    per_match_upper_bound,
    plan,
    plan_frames,
    series_frame,
    show,
)
from solver.frames import proposals

set_matplotlib_formats("png")
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 100)

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

# %% [markdown]
# ## The plan

# %%
result = plan(doc, avail, time_limit=10)
print(
    f"status {result.status}; objective {result.objective}; proven bound {result.bound}; "
    f"{result.solve_seconds:.2f} s"
)
series, occurrences, unscheduled = plan_frames(result)
series

# %%
# Occurrences that do not hold, who is missing, and the one-off move that would fix them.
occurrences[~occurrences.holds]

# %%
# Who misses sessions most often. A pair's occurrence holds only when both can come, so
# there a vacation is the usual cause; in a group only the organizer is required, and a
# member whose windows rarely meet the group's time misses most of its sessions.
missed = occurrences.missing.str.split(", ").explode()
missed[missed != ""].value_counts().rename("occurrences missed").to_frame()


# %% [markdown]
# ## Compared with first come, first served
#
# Each match alone at its best (`proposals(doc, match, limit=1)`) is an upper bound for
# any plan; `per_match_upper_bound` is its sum. With the demo's caps of four sessions a
# week, the matches hardly compete, so both the plan and first come, first served reach
# it; the caps section below shows where they part.

# %%
fcfs = first_come_first_served_frame(doc, avail)
alone = series_frame([proposals(doc, x.id, avail, limit=1)[0] for x in doc.matches])
compare = (
    pd.DataFrame(
        {
            "best alone": alone.set_index("match").attendance,
            "plan": series.set_index("match").attendance,
            "first come, first served": fcfs.attendance,
        }
    )
    .fillna(0)
    .astype(int)
)
bound = per_match_upper_bound(doc, avail)
assert compare["best alone"].sum() == bound.attendance
compare.loc["total"] = compare.sum()
compare

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
compare.drop("total").plot.bar(ax=ax, width=0.8, color=["#bbbbbb", "#2a7f3f", "#e39b2d"])
ax.set_ylabel("attendance (members x occurrences that hold)")
ax.set_title("Attendance per match")
ax.tick_params(axis="x", rotation=30)
fig.tight_layout()
show(fig)

# %%
# Attendance of every occurrence, per match (0 where an occurrence does not hold).
held = occurrences.assign(attending=occurrences.attending.where(occurrences.holds, 0))
by_occurrence = held.pivot(index="occurrence", columns="match", values="attending")
fig, ax = plt.subplots(figsize=(10, 4.5))
by_occurrence.plot(ax=ax, marker="o", ms=3)
ax.set_ylabel("members attending")
ax.set_title("Attendance per occurrence")
ax.legend(fontsize=8, ncols=3)
show(fig)

# %% [markdown]
# ## The effect of weekly caps
#
# Every demo member may have at most four sessions a week (`max_sessions_per_week`). Lower
# caps make the matches compete: first come, first served then gives whole matches away
# to whoever books first, while the plan looks for the best combination. Caps do not change
# availability, so the same `avail` serves every variant.

# %%
rows, reasons = [], {}
for cap in [None, 4, 3, 2, 1]:
    capped = with_weekly_cap(doc, cap)
    planned = plan(capped, avail, time_limit=10)
    first = first_come_first_served_frame(capped, avail)
    label = "none" if cap is None else str(cap)
    rows.append(
        {
            "cap": label,
            "plan held": planned.objective.held,
            "plan attendance": planned.objective.attendance,
            "plan matches": len(planned.series),
            "fcfs held": int(first.held.sum()),
            "fcfs attendance": int(first.attendance.sum()),
            "fcfs matches": int((first.held > 0).sum()),
            "status": planned.status,
        }
    )
    reasons[label] = plan_frames(planned)[2]
caps = pd.DataFrame(rows).set_index("cap")
caps

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
caps[["plan attendance", "fcfs attendance"]].plot(ax=left, marker="o", color=["#2a7f3f", "#e39b2d"])
left.set_ylabel("total attendance")
left.set_title("Attendance as the weekly cap tightens")
caps[["plan matches", "fcfs matches"]].plot.bar(ax=right, color=["#2a7f3f", "#e39b2d"])
right.set_ylabel("matches with a series")
right.set_title("Matches scheduled")
right.tick_params(axis="x", rotation=0)
fig.tight_layout()
show(fig)

# %%
# With one session a week each, what the plan could not schedule, and why.
reasons["1"]
