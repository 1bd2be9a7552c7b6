"""The measured-throughput file (resources/throughput.yaml) that regscale.plan turns into
device-hours, and how a benchmark run records itself there.

One block per device kind (``gpu``, ``cpu``), each with a ``name`` (the machine) and up
to two measurements: ``simulate`` (spin_steps_per_s, steps_per_sample) and ``train``
(per architecture, a list of {n_m, samples_per_s, size keys}). Every measurement carries
its ``source``: the command, the machine and the date, so that a number in a plan can be
traced to the run that produced it.

``python -m regscale.bench simulate|train --record`` writes its own measurement into the
block of the device it ran on; nothing has to be copied by hand. It replaces only that
measurement (and says so), keeps every other block and the file's header comment, and
writes through a temporary file, so that an interrupted write leaves the old file whole.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import yaml

from .study import parse_size

REPO = Path(__file__).resolve().parents[2]
FILE = REPO / "resources" / "throughput.yaml"
STAGES = ("simulate", "train")
HEADER = "# Measured throughputs: what `python -m regscale.plan` turns into device-hours.\n"


def device_kind(device_type: str) -> str:
    """The file's block for a torch device type: gpu for CUDA, else cpu."""
    return "gpu" if device_type == "cuda" else "cpu"


def simulate_entry(result: dict) -> dict:
    """The simulate measurement of a `regscale.bench simulate` result."""
    return {"spin_steps_per_s": round(result["site_steps_per_s"]), "steps_per_sample": round(result["steps_mean"], 1)}


def train_entry(result: dict) -> dict:
    """The train measurement of a `regscale.bench train` result: the FCN ensembles
    (realization-samples per second of all members) and one model of each architecture
    (an FCN of a width measured as an ensemble is left out)."""
    entry: dict[str, list] = {}
    for ensemble in result["ensembles"]:
        entry.setdefault("fcn", []).append(
            {
                "n_m": ensemble["n_m"],
                "samples_per_s": ensemble["ensemble_samples_per_s"],
                "width": ensemble["width"],
                "depth": ensemble["depth"],
                "members": ensemble["members"],
            }
        )
    ensembled = {ensemble["n_m"] for ensemble in result["ensembles"]}
    for model in result["models"]:
        if model["arch"] == "fcn" and model["n_m"] in ensembled:
            continue  # FCN seeds train as ensembles: the ensemble's rate is the one to plan with
        size = parse_size(model["size"])
        entry.setdefault(model["arch"], []).append(
            {"n_m": model["n_m"], "samples_per_s": model["samples_per_s"], **size}
        )
    for rates in entry.values():
        rates.sort(key=lambda rate: rate["n_m"])
    return entry


def summary(stage: str, result: dict) -> str:
    """A short account of the run, kept in the source line."""
    if stage == "simulate":
        return (
            f"{result['samples']} samples of {result['sites_per_sample']} spins, batch {result['batch']}, "
            f"{result['dtype']}, tol {result['tol_meV']} meV, {result['converged_fraction']:.0%} converged, "
            f"{os.cpu_count()} cores"
        )
    shape = " x ".join(str(n) for n in result["image_shape"])
    return (
        f"images {shape}, {result['dtype']}, {result['threads']} torch thread(s) of {os.cpu_count()} cores, "
        "synthetic data"
    )


def record(path: Path, stage: str, kind: str, result: dict, command: str, log=print) -> None:
    """Write one benchmark result into the throughput file."""
    if stage not in STAGES:
        raise ValueError(f"unknown benchmark {stage!r}; expected one of {STAGES}")
    path = Path(path)
    text, measured = read(path)
    block = measured.get(kind) or {}
    entry = simulate_entry(result) if stage == "simulate" else train_entry(result)
    date = datetime.date.today().isoformat()
    entry["source"] = f"{command} ({summary(stage, result)}); {result['device']}, {date}"
    if stage in block:
        log(f"replacing the {kind} {stage} measurement in {path}: {str(block[stage].get('source', ''))[:100]}")
    block["name"] = result["device"]
    block[stage] = entry
    measured[kind] = block

    # The header comment (what the file is, how to fill it) survives; YAML drops comments.
    header = "".join(_leading_comments(text)).rstrip() + "\n"
    body = yaml.dump(measured, Dumper=_Dumper, sort_keys=False, width=100)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(header + "\n" + body)
    os.replace(scratch, path)
    log(f"recorded the {kind} {stage} measurement in {path}")


def read(path: Path) -> tuple[str, dict]:
    """(text, device blocks) of a throughput file; a missing file is an empty one. The
    benchmark calls this before it runs, so that a broken file fails at once."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"{path}: folder {path.parent} does not exist")
    text = path.read_text() if path.exists() else HEADER
    try:
        measured = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(measured, dict) or not all(isinstance(block, (dict, type(None))) for block in measured.values()):
        raise ValueError(f"{path}: expected device blocks (gpu: ..., cpu: ...), each a mapping or null")
    return text, measured


class _Dumper(yaml.SafeDumper):
    """One line per measured size ({n_m: ..., samples_per_s: ..., width: ...}), blocks
    for the rest: the file is meant to be read."""


def _represent_dict(dumper, data):
    flow = "source" not in data and not any(isinstance(value, (dict, list)) for value in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)


def _leading_comments(text: str):
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            return
        yield line


def load(path: Path, device: str | None = None) -> tuple[str, dict]:
    """(device kind, block) for the planner: the GPU's where it is measured, else the
    CPU's. A block must hold both measurements: a half-measured GPU would otherwise mix
    GPU simulation with CPU training, or fail deep inside the plan."""
    _, measured = read(path)
    if device is None:
        device = "gpu" if measured.get("gpu") else "cpu"
    block = measured.get(device)
    if not block:
        raise SystemExit(f"{path}: no measurements for device {device!r} yet (see the file's header)")
    missing = [stage for stage in STAGES if not block.get(stage)]
    if missing:
        commands = "; ".join(f"python -m regscale.bench {stage} --record" for stage in missing)
        raise SystemExit(
            f"{path}: the {device} block has no {' or '.join(missing)} measurement; run on that device: {commands}"
        )
    return device, block
