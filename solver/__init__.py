"""Heat maps, recurring series and plans from an availability matrix (CP-SAT).

The notebook API (docs/python-api.md) can be imported from here, e.g. ``from solver import
plan, heatmap_frame``, except the two functions named like their modules: ``from
solver.heatmap import heatmap`` and ``from solver.frames import proposals``. Each name is
loaded from its module on first use, so ``import solver`` (and every process that imports
one solver module) loads nothing it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.exports import lazy_exports

# name -> the module of this package that defines it
_EXPORTS = {
    "Heatmap": "heatmap",
    "Plan": "result",
    "Score": "result",
    "Series": "result",
    "plan": "planner",
    "SolveParams": "model",
    "PlanStats": "result",
    "propose": "proposals",
    "first_come_first_served": "peers",
    "first_come_first_served_plan": "peers",
    "per_match_upper_bound": "peers",
    "executor_for": "executors",
    "best_weekly_time": "frames",
    "first_come_first_served_frame": "frames",
    "heatmap_frame": "frames",
    "occurrence_frame": "frames",
    "plan_frames": "frames",
    "series_frame": "frames",
    "hardest_to_schedule": "difficulty",
    "plot_frame": "plots",
    "show": "plots",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # `X as X`: re-exported, for type checkers and editors
    from .difficulty import hardest_to_schedule as hardest_to_schedule
    from .executors import executor_for as executor_for
    from .frames import best_weekly_time as best_weekly_time
    from .frames import first_come_first_served_frame as first_come_first_served_frame
    from .frames import heatmap_frame as heatmap_frame
    from .frames import occurrence_frame as occurrence_frame
    from .frames import plan_frames as plan_frames
    from .frames import series_frame as series_frame
    from .heatmap import Heatmap as Heatmap
    from .model import SolveParams as SolveParams
    from .peers import first_come_first_served as first_come_first_served
    from .peers import first_come_first_served_plan as first_come_first_served_plan
    from .peers import per_match_upper_bound as per_match_upper_bound
    from .planner import plan as plan
    from .plots import plot_frame as plot_frame
    from .plots import show as show
    from .proposals import propose as propose
    from .result import Plan as Plan
    from .result import PlanStats as PlanStats
    from .result import Score as Score
    from .result import Series as Series


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
