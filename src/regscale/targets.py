"""The regression targets, registered once each: the Hamiltonian parameters that label
every image (the simulator draws each from its uniform prior ``physics.ranges.<name>``,
the shard tables have a column of that name, the trainer standardizes it by that
prior, and the figures title their panels with its label).

The order of registration is the order of the columns and of the random draws of
regscale.shards, so a new target goes at the end: the shards of the others stay the
same. A target the simulator does not vary cannot be learned: a new one also needs
its parameter in regscale.simulate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str  # shard-table column, key of physics.ranges, run folders' target~<name>
    label: str  # figure titles (matplotlib mathtext)
    units: str


TARGETS_BY_NAME: dict[str, Target] = {}


def register(target: Target) -> Target:
    if target.name in TARGETS_BY_NAME or target.name == "joint":
        raise ValueError(f"target name {target.name!r} is taken")
    TARGETS_BY_NAME[target.name] = target
    return target


def names() -> tuple[str, ...]:
    """Every target, in registration order."""
    return tuple(TARGETS_BY_NAME)


register(Target("theta", r"$\theta$", "deg"))  # twist angle
register(Target("J", r"$J$", "meV"))  # intralayer Heisenberg exchange
register(Target("D", r"$D$", "meV"))  # interfacial Dzyaloshinskii-Moriya interaction
