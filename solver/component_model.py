"""One component's CP-SAT model in plan(): built from its pruned candidates, with the best
answer found for it and its proven bound, and every component's answer put together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .candidates import Candidates
from .matches import ScoredMatch
from .model import BatchInstance, BatchMatch, ModelResult
from .result import Status


@dataclass
class ComponentModel:
    """One component that needs the CP-SAT model, and the best answer found for it."""

    comp: list[int]
    kept: dict[int, Candidates]
    inst: BatchInstance
    choice: list[int | None]  # per match of comp: index into kept[i], or None
    status: Status = "unknown"
    bound: int = 0  # proven bound on held * weight + attendance

    @property
    def weight(self) -> int:
        return self.inst.weight


def component_model(
    matches: list[ScoredMatch],
    comp: list[int],
    kept: dict[int, Candidates],
    week: np.ndarray,
    caps: dict[int, int],
    fcfs: dict[int, int | None],
) -> ComponentModel:
    """One model for ``comp``: the matches of one or more components, pruned."""
    weight = sum(int(kept[i].attendance.max()) for i in comp) + 1
    inst = BatchInstance(
        [
            BatchMatch(
                matches[i].people,
                kept[i].k,
                kept[i].slots,
                kept[i].held,
                kept[i].attendance,
                kept[i].preferred,
                kept[i].first - kept[i].first.min(),
            )
            for i in comp
        ],
        week,
        _caps_of(matches, comp, caps),
        weight,
    )
    # Every match alone at its best bounds the model until the solver proves better.
    top = sum(int(kept[i].held[0]) * weight + int(kept[i].attendance[0]) for i in comp)
    hint = [_kept_index(matches[i].cands, kept[i], fcfs[i]) for i in comp]
    return ComponentModel(comp, kept, inst, hint, "feasible", top)


def value(model: ComponentModel, choice: list[int | None]) -> int:
    return sum(
        int(bm.held[c]) * model.weight + int(bm.attendance[c])
        for bm, c in zip(model.inst.matches, choice, strict=True)
        if c is not None
    )


def _full_value(matches: list[ScoredMatch], model: ComponentModel, picked: list[int | None]) -> int:
    """held * weight + attendance of a choice given as indices into each match's cands."""
    return sum(
        int(matches[i].cands.held[c]) * model.weight + int(matches[i].cands.attendance[c])
        for i, c in zip(model.comp, picked, strict=True)
        if c is not None
    )


def absorb(model: ComponentModel, res: ModelResult) -> None:
    """Take a run's answer and bound when they are better than the model's."""
    if res.status in ("optimal", "feasible"):
        model.bound = min(model.bound, res.primary_bound)
        if value(model, res.choice) >= value(model, model.choice):
            model.choice = res.choice
        model.status = "optimal" if value(model, model.choice) >= model.bound else "feasible"


def collect(
    matches: list[ScoredMatch],
    comps: list[list[int]],
    models: list[ComponentModel],
    fcfs: dict[int, int | None],
) -> tuple[dict[int, int | None], tuple[int, int]]:
    """Each match's candidate (index into its cands) and the (held, attendance) bound."""
    choice: dict[int, int | None] = {i: 0 for comp in comps for i in comp}
    held = sum(int(matches[i].cands.held[0]) for i in choice)
    attendance = sum(int(matches[i].cands.attendance[0]) for i in choice)
    for model in models:
        # The model's bound replaces its matches' own best.
        held += model.bound // model.weight - sum(int(matches[i].cands.held[0]) for i in model.comp)
        attendance += model.bound % model.weight - sum(
            int(matches[i].cands.attendance[0]) for i in model.comp
        )
        picked = [
            None
            if c is None
            else int(np.flatnonzero(matches[i].cands.first == model.kept[i].first[c])[0])
            for i, c in zip(model.comp, model.choice, strict=True)
        ]
        peer = [fcfs[i] for i in model.comp]
        if _full_value(matches, model, peer) > _full_value(matches, model, picked):
            picked = peer  # only after a time limit; FCFS may use a pruned candidate
        choice.update(zip(model.comp, picked, strict=True))
    return choice, (held, attendance)


def _caps_of(matches: list[ScoredMatch], comp: list[int], caps: dict[int, int]) -> dict[int, int]:
    """The weekly caps of the people in ``comp``."""
    people = {p for i in comp if matches[i].cap_people for p in matches[i].people.tolist()}
    return {p: caps[p] for p in people if p in caps}


def _kept_index(cands: Candidates, kept: Candidates, c: int | None) -> int | None:
    """Position in ``kept`` of candidate ``c`` of ``cands`` (None if pruned or None)."""
    if c is None:
        return None
    where = np.flatnonzero(kept.first == cands.first[c])
    return int(where[0]) if len(where) else None
