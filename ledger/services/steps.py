"""The base of the command services: each command builds a :class:`Step` and hands it on.

Built over ``executor.run`` a service decides and appends each command (an ``Outcome``);
built over :func:`as_step` (``Services.plan``) the same methods, with the same arguments,
return their ``Step``, so that a batch is an explicit list of steps for ``run_steps``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..domain.base import NewEvent
from .executor import Context, Decision, Executor, SignOff, Step

R = TypeVar("R")


def as_step(step: Step) -> Step:
    return step


class Commands(Generic[R]):
    def __init__(self, executor: Executor, run: Callable[[Step], R]) -> None:
        self.executor = executor
        self.clock = executor.clock
        self.run = run

    def command(
        self, ctx: Context, decide: Decision, *, at_event_time: bool = False,
        signoff: SignOff | None = None, answer: Callable[[list[NewEvent]], dict[str, Any]] | None = None,
    ) -> R:
        return self.run(Step(ctx, decide, signoff, answer, at_event_time))
