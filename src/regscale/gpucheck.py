"""The GPU check in one command: ``python -m regscale.gpucheck --out results/gpu-check.json``
(``make gpu-check``).

On one CUDA GPU, in under 8 minutes (``--budget``), it runs, one part after another:

- ``cuda tests``: tests/test_cuda.py (pytest marker ``cuda``): simulation on CUDA against the
  CPU, training of each architecture, the seed-batched ensemble against one seed at a
  time, and a tiny study with ``device: cuda`` through Snakemake;
- ``bench simulate``: ``python -m regscale.bench simulate --sites 20000 --batch 1024
  --device cuda --record``;
- ``bench train``: ``python -m regscale.bench train --device cuda --config
  configs/paper.yaml --record``.

The benchmarks record their measurement in resources/throughput.yaml (``--record``), as
the README's "On a SLURM cluster" asks. ``--out`` gets, rewritten after every part: the
GPU, the Python and package versions, and per part its command, seconds, exit status and
outcome (per test its seconds and outcome; per benchmark its JSON). Each part's whole
output goes to results/gpu-check/<part>.log. The exit status is 0 only when every part
passed (a skipped test is a failure here); where torch sees no CUDA device the check
stops at once with one line and status 2.

It runs on the lent GPU machine as that machine is: no package registry is reachable
there, and its python3 (3.12) holds torch, numpy, pandas, pytest ... but not snakemake or
jsonschema. Where the python running the check lacks those two, the check makes the
virtual environment results/gpu-venv on top of that python: a .pth file adds this
python's site-packages (torch included) and src/ to the venv's path. It does not use
``venv --system-site-packages``: the machine's python3 is itself a venv, and that option
would show the packages of its base interpreter, without torch. Then it installs
snakemake and jsonschema from the wheels folder (``make gpu-wheels``; ``--wheels``) with
no index, taking from the folder only what this python lacks or holds in a version they
cannot use, and runs itself again in that environment. Only the standard library is
imported before that.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "results" / "gpu-venv"
LOGS = REPO / "results" / "gpu-check"
WHEELS = REPO / "gpu-wheels"
RECORD = REPO / "resources" / "throughput.yaml"
BUDGET_S = 470  # the whole check, set-up included: under 8 minutes
REQUIRED = ("snakemake", "jsonschema")  # what the GPU machine's python3 lacks
VERSIONS = (  # distributions whose versions the report records
    "torch", "torchvision", "timm", "numpy", "pandas", "scipy", "statsmodels", "matplotlib",
    "seaborn", "PyYAML", "snakemake", "jsonschema", "pytest", "triton",
)  # fmt: skip


class SetupError(Exception):
    """The environment cannot be prepared; the message says why, on one line."""


@dataclass
class Part:
    name: str
    command: list[str]
    timeout_s: float  # at most; a part also stops where the budget ends
    kind: str  # "pytest" or "bench"


def parts(python: str, junit: Path, record: Path) -> list[Part]:
    # The default file goes unnamed, so that the command each benchmark records in it is
    # the README's, with no path of the machine it ran on.
    recording = ["--record"] if record == RECORD else ["--record", str(record)]
    return [
        Part(
            "cuda tests",
            [python, "-m", "pytest", "tests/test_cuda.py", "-m", "cuda", "-p", "no:cacheprovider", "-q",
             f"--junitxml={junit}"],
            300,
            "pytest",
        ),
        Part(
            "bench simulate",
            [python, "-m", "regscale.bench", "simulate", "--sites", "20000", "--batch", "1024", "--device", "cuda",
             *recording],
            200,
            "bench",
        ),
        Part(
            "bench train",
            [python, "-m", "regscale.bench", "train", "--device", "cuda", "--config", "configs/paper.yaml",
             *recording],
            240,
            "bench",
        ),
    ]  # fmt: skip


# --- the environment ------------------------------------------------------------------


def cuda_problem() -> str | None:
    """Why this python cannot run the check on a GPU, or None."""
    try:
        import torch
    except ImportError as error:
        return f"torch is not importable by {sys.executable} ({error}); run the check with the GPU machine's python3"
    if not torch.cuda.is_available():
        return (
            f"no CUDA device is visible to torch {torch.__version__} ({sys.executable}): "
            "the GPU check runs only on a machine with an NVIDIA GPU"
        )
    return None


def has_required() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED)


def _ready(python: Path) -> bool:
    """Whether ``python`` imports what the check needs (torch where this python has it)."""
    modules = [*REQUIRED, "regscale"] + (["torch"] if importlib.util.find_spec("torch") else [])
    check = "import " + ", ".join(modules)
    return python.exists() and subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def _parent_site_dirs() -> list[str]:
    """This python's package folders (its venv's and, where it sees them, its base's)."""
    found = []
    for entry in sys.path:
        if entry and Path(entry).name in ("site-packages", "dist-packages") and Path(entry).is_dir():
            if entry not in found:
                found.append(entry)
    return found


def prepare(wheels: Path, venv: Path, log) -> Path:
    """results/gpu-venv on top of this python, with snakemake and jsonschema from ``wheels``;
    returns its python. Reused when it is already complete."""
    python = venv / "bin" / "python"
    if _ready(python):
        log(f"reusing {venv}")
        return python
    if not any(wheels.glob("*.whl")):
        raise SetupError(
            f"{wheels} holds no wheels: run `make gpu-wheels` where PyPI is reachable and carry {wheels.name} "
            "to this machine"
        )

    def step(command: list[str], what: str) -> str:
        log("$ " + " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True)
        log(result.stdout + result.stderr)
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
            raise SetupError(f"{what} failed ({result.returncode}): {last}")
        return result.stdout

    step([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], "making the venv")
    purelib = step([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], "asking the venv")
    lines = [str(REPO / "src")]
    # An `import` line runs: addsitedir also reads the .pth files of those folders.
    lines += [f"import site; site.addsitedir({folder!r})" for folder in _parent_site_dirs()]
    (Path(purelib.strip()) / "regscale-gpu-check.pth").write_text("\n".join(lines) + "\n")
    if subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode == 0:
        pip = [str(python), "-m", "pip"]
    else:  # no pip on this python: pip runs from its own wheel
        found = sorted(wheels.glob("pip-*.whl"))
        if not found:
            raise SetupError(f"{sys.executable} has no pip and {wheels} no pip wheel")
        pip = [str(python), str(found[-1] / "pip")]
    step(
        [*pip, "install", "--no-index", "--find-links", str(wheels), "--no-cache-dir", "--disable-pip-version-check",
         "--no-warn-script-location", *REQUIRED],
        "installing the wheels",
    )  # fmt: skip
    if not _ready(python):
        raise SetupError(f"{python} cannot import what the check needs after the install (see the log)")
    return python


def environment() -> dict:
    import torch

    device = torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(device)
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "gpu": torch.cuda.get_device_name(device),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(device))),
        "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
        "gpus": torch.cuda.device_count(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "cpus": os.cpu_count(),
        "host": platform.node(),
        "versions": versions,
    }


# --- the parts ------------------------------------------------------------------------


def run_part(part: Part, deadline: float, log_path: Path, env: dict) -> dict:
    """Run one part in its own process group, killed at its timeout or the deadline."""
    timeout = min(part.timeout_s, deadline - time.monotonic())
    record = {"name": part.name, "command": " ".join(part.command), "log": str(log_path.relative_to(REPO))}
    if timeout < 5:
        return record | {"seconds": 0.0, "returncode": None, "timed_out": True, "ok": False,
                         "error": "not started: the budget is spent"}  # fmt: skip
    start = time.monotonic()
    with open(log_path, "w") as log:
        log.write(f"$ {record['command']}\n")
        log.flush()
        # Its own process group (snakemake's jobs included), to stop it whole; not a new
        # session, so that whatever ends this check's session ends the part too.
        process = subprocess.Popen(
            part.command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
    seconds = time.monotonic() - start
    record |= {"seconds": round(seconds, 1), "returncode": process.returncode, "timed_out": timed_out}
    if timed_out:
        record["error"] = f"stopped after {seconds:.0f} s (its limit: {timeout:.0f} s)"
    record["ok"] = process.returncode == 0 and not timed_out
    return record


def pytest_outcomes(junit: Path) -> list[dict]:
    """Each test's name, seconds and outcome from pytest's JUnit XML."""
    if not junit.exists():
        return []
    tests = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", None
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "")[:500]
                break
        test = {"name": case.get("name"), "seconds": round(float(case.get("time") or 0.0), 2), "outcome": outcome}
        if message:
            test["message"] = message
        tests.append(test)
    return tests


def bench_result(log_path: Path) -> dict | None:
    """The benchmark's JSON: the last line of its output that is one."""
    for line in reversed(log_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _write(out: Path, report: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, out)


def summary(record: dict) -> str:
    if "tests" in record and "error" not in record:
        counts: dict[str, int] = {}
        for test in record["tests"]:
            counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
        text = ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "no test ran"
        return f"ok ({text})" if record["ok"] else f"FAILED ({text}; exit {record['returncode']})"
    if not record["ok"]:
        return "FAILED" + (f": {record['error']}" if "error" in record else f" (exit {record['returncode']})")
    result = record.get("result") or {}
    if result.get("benchmark") == "simulate":
        per_sample, rate = result["seconds_per_sample"] * 1e3, result["site_steps_per_s"]
        return f"ok ({per_sample:.2f} ms per sample, {rate:.3g} spin-steps/s)"
    if result.get("benchmark") == "train":
        rates = ", ".join(f"{m['arch']} {m['size']}: {m['samples_per_s']:.0f}/s" for m in result["models"])
        return f"ok (ensemble speed-up x{result['ensemble_speedup']}; {rates})"
    return "ok"


def check(args, python: str, setup_s: float) -> int:
    started = time.monotonic() - setup_s
    deadline = started + args.budget
    LOGS.mkdir(parents=True, exist_ok=True)
    junit = LOGS / "junit.xml"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])  # snakemake, pytest
    report = {
        "check": "regscale.gpucheck",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "budget_s": args.budget,
        "environment": environment(),
        "parts": [{"name": "setup", "seconds": round(setup_s, 1), "returncode": 0, "ok": True}],
    }
    print(f"gpu-check on {report['environment']['gpu']}, torch {report['environment']['torch']}, "
          f"python {report['environment']['python']}", flush=True)  # fmt: skip
    _write(args.out, report)
    for part in parts(python, junit, args.record):
        print(f"gpu-check: {part.name} ...", flush=True)
        log_path = LOGS / (part.name.replace(" ", "-") + ".log")
        junit.unlink(missing_ok=True)  # a killed pytest leaves none: no stale outcomes
        record = run_part(part, deadline, log_path, env)
        if part.kind == "pytest":
            record["tests"] = pytest_outcomes(junit)
            if not record["tests"] or any(test["outcome"] != "passed" for test in record["tests"]):
                record["ok"] = False
        elif log_path.exists():
            record["result"] = bench_result(log_path)
            if record["result"] is None:
                record["ok"] = False
        report["parts"].append(record)
        report["total_s"] = round(time.monotonic() - started, 1)
        report["ok"] = all(p["ok"] for p in report["parts"])
        _write(args.out, report)
        print(f"gpu-check: {part.name}: {record['seconds']} s, {summary(record)}", flush=True)
        if not record["ok"] and log_path.exists():
            print(f"--- the end of {log_path.relative_to(REPO)} ---\n{_tail(log_path)}\n---", flush=True)
    report["total_s"] = round(time.monotonic() - started, 1)
    report["ok"] = all(p["ok"] for p in report["parts"])
    _write(args.out, report)
    print(f"\n{'part':<16}{'seconds':>9}  outcome")
    for record in report["parts"]:
        outcome = "ok" if record["name"] == "setup" else summary(record)
        print(f"{record['name']:<16}{record['seconds']:>9.1f}  {outcome}")
    verdict = "every part passed" if report["ok"] else "FAILED"
    print(f"{'total':<16}{report['total_s']:>9.1f}  {verdict} -> {args.out}", flush=True)
    return 0 if report["ok"] else 1


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m regscale.gpucheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "gpu-check.json", help="the report (JSON)")
    parser.add_argument("--wheels", type=Path, default=WHEELS, help="the wheels of `make gpu-wheels`")
    parser.add_argument("--venv", type=Path, default=VENV, help="the environment made where snakemake is missing")
    parser.add_argument(
        "--record", type=Path, default=RECORD, help="where the benchmarks record (default resources/throughput.yaml)"
    )
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check (default 470)")
    parser.add_argument(
        "--prepare-only", action="store_true", help="make the environment and stop (needs no GPU; for testing it)"
    )
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setup-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out, args.wheels, args.venv, args.record = (
        path if path.is_absolute() else Path.cwd() / path for path in (args.out, args.wheels, args.venv, args.record)
    )
    if not args.prepare_only:
        problem = cuda_problem()
        if problem:
            print(f"gpu-check: {problem}", file=sys.stderr)
            return 2
    if has_required():
        if args.prepare_only:
            print(f"gpu-check: {sys.executable} already has {' and '.join(REQUIRED)}; nothing to prepare")
            return 0
        return check(args, sys.executable, args.setup_seconds)
    if args.inner:
        print(f"gpu-check: {sys.executable} still lacks {' or '.join(REQUIRED)} after the set-up", file=sys.stderr)
        return 2
    start = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "setup.log", "w") as log_file:

        def log(text: str) -> None:
            log_file.write(text.rstrip("\n") + "\n")
            log_file.flush()

        try:
            python = prepare(args.wheels, args.venv, log)
        except (SetupError, OSError) as error:
            print(f"gpu-check: set-up failed: {error} (log: {LOGS.relative_to(REPO)}/setup.log)", file=sys.stderr)
            return 2
    seconds = time.monotonic() - start
    if args.prepare_only:
        print(f"gpu-check: {python} is ready ({seconds:.1f} s)")
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    rest = [*argv, "--inner", "--setup-seconds", f"{seconds:.2f}"]
    os.execv(str(python), [str(python), "-m", "regscale.gpucheck", *rest])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
