"""The architectures a study can train, registered once each (as timm's register_model).

An entry says everything the study needs to know of an architecture: its name (as in
the config's ``experiments.<name>.arch`` and the run folders), the keys of its size
(``experiments.<name>.sizes``), the builder of a freshly initialised model, the checks
a size must pass for an image shape, its name in legends and its plot style, its
default optimisation settings (``train.archs.<name>``), and whether the seeds of a job
train together as one stacked ensemble. The config schema, the planner, the
benchmark, the figures and the train rule read this registry; adding an architecture
is one ``register`` call.

This module imports no torch: the workflow reads it while it builds the DAG. Builders
import their model libraries when they are called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# train.archs.<arch> keys and the values an architecture gets unless it says otherwise
OPTIMIZER_DEFAULTS = {
    "optimizer": "adam",
    "lr": 1.0e-3,
    "weight_decay": 0.0,
    "batch_size": 32,
    "max_epochs": 100,
    "min_epoch_steps": 1,
}


@dataclass(frozen=True)
class Architecture:
    name: str
    size_keys: tuple[str, ...]
    build: Callable  # (size, image_shape (C, H, W), n_outputs) -> torch.nn.Module
    label: str  # its name in legends
    colour: str = "tab:gray"
    marker: str = "o"
    ensemble: bool = False  # a job's seeds train together (regscale.ensemble.FCNEnsemble)
    optimizer: dict = field(default_factory=dict)  # defaults of train.archs.<name>, over OPTIMIZER_DEFAULTS
    check: Callable | None = None  # (size, image_shape) -> None; ValueError naming the problem

    def size_label(self, size: dict) -> str:
        """The size as path components, in the registered key order: width~16/depth~3."""
        unknown = sorted(set(size) - set(self.size_keys))
        missing = [key for key in self.size_keys if key not in size]
        if unknown or missing:
            raise ValueError(f"{self.name} size {size}: expected exactly the keys {list(self.size_keys)}")
        return "/".join(f"{key}~{size[key]}" for key in self.size_keys)

    def check_size(self, size: dict, image_shape) -> None:
        """ValueError, naming the problem, when ``size`` cannot be built for ``image_shape``."""
        self.size_label(size)
        for key, value in size.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{self.name} size {size}: {key} must be a positive integer")
        if self.check is not None:
            self.check(size, tuple(image_shape))

    def optimizer_defaults(self) -> dict:
        return {**OPTIMIZER_DEFAULTS, **self.optimizer}

    def legend(self, size: dict, vary: str | None = None) -> str:
        """Its name in a legend; with the varied size key(s) when several sizes are drawn."""
        if vary is None:
            return self.label
        shown = self.size_keys if vary == "size" else (vary,)
        return f"{self.label} ({', '.join(f'{key}={size[key]}' for key in shown)})"


ARCHITECTURES: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    if architecture.name in ARCHITECTURES:
        raise ValueError(f"architecture {architecture.name!r} is registered twice")
    if not architecture.name.isidentifier():
        raise ValueError(f"architecture name {architecture.name!r}: use letters, digits and _")
    ARCHITECTURES[architecture.name] = architecture
    return architecture


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; registered: {sorted(ARCHITECTURES)}") from None


def check_size(arch: str, size: dict, image_shape) -> None:
    """Raise ValueError, naming the problem, when ``size`` cannot be built for images of
    ``image_shape`` (C, H, W). Pure Python: the config check calls it before any job."""
    get(arch).check_size(size, image_shape)


def build_model(arch: str, size: dict, image_shape, n_outputs: int):
    """A freshly initialised regressor (it draws from torch's global RNG: seed around it)."""
    check_size(arch, size, image_shape)
    return get(arch).build(size, tuple(image_shape), n_outputs)


def size_columns() -> list[str]:
    """Every size key of every architecture, once each: the size columns of the tables."""
    return list(dict.fromkeys(key for arch in ARCHITECTURES.values() for key in arch.size_keys))


# -- the study's architectures (builders in regscale.models) ----------------------------


def _build_fcn(size, image_shape, n_outputs):
    from .models import fcn

    return fcn(size["width"], size["depth"], image_shape, n_outputs)


def _build_resnet18(size, image_shape, n_outputs):
    from .models import resnet18

    return resnet18(size["width"], image_shape, n_outputs)


def _check_resnet18(size, image_shape):
    _, height, width = image_shape
    if min(height, width) < 8:
        raise ValueError(
            f"resnet18 needs images of at least 8 x 8 pixels (it halves them three times), got {height} x {width}"
        )


def _build_vit(size, image_shape, n_outputs):
    from .models import vit

    return vit(size, image_shape, n_outputs)


def _check_vit(size, image_shape):
    _, height, width = image_shape
    if height % size["patch"] or width % size["patch"]:
        raise ValueError(f"vit size {size}: patch {size['patch']} does not divide the {height} x {width} image")
    if size["dim"] % size["heads"]:
        raise ValueError(f"vit size {size}: dim {size['dim']} is not a multiple of heads {size['heads']}")


register(Architecture("fcn", ("width", "depth"), _build_fcn, "FCN", "tab:red", "s", ensemble=True))
register(Architecture("resnet18", ("width",), _build_resnet18, "ResNet-18", "tab:blue", "o", check=_check_resnet18))
register(Architecture("vit", ("patch", "dim", "depth", "heads"), _build_vit, "ViT", "tab:green", "D", check=_check_vit))
