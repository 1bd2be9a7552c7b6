"""A throwaway single-node SLURM cluster with accounting, for the workflow tests.

Everything lives in one folder: the configs (from the *.in templates next to this
file), a munge key, a private MariaDB data directory, the daemons' state, logs and
sockets. The daemons are this process's children and listen on free ports of
127.0.0.1, so the cluster neither needs nor touches /etc/slurm, /etc/munge or a
system database, and two test sessions do not collide.

    cluster = Cluster(Path("/tmp/slurm-test"))
    cluster.start()                 # munged, mariadbd, slurmdbd, slurmctld, slurmd
    subprocess.run(["sinfo"], env=cluster.env)
    cluster.stop()

Needs root (slurmd launches jobs as their user and munged must read its key) and the
Debian packages slurm-wlm, slurmdbd, munge and mariadb-server (tests/slurm/install.sh).
``python tests/slurm/cluster.py DIR`` starts one by hand and keeps it up until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAEMONS = ["munged", "mungekey", "mariadb-install-db", "mariadbd", "mariadb", "slurmdbd", "slurmctld", "slurmd"]
CLIENTS = ["sbatch", "srun", "sacct", "sacctmgr", "sinfo", "squeue", "scontrol", "scancel"]
CLUSTER, ACCOUNT, PARTITION = "regscale", "regscale", "main"


def unavailable() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if sys.platform != "linux":
        return "a SLURM test cluster needs Linux"
    if os.geteuid() != 0:
        return "starting slurmd, slurmctld, slurmdbd, munged and mariadbd needs root (CI runs this test as root)"
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None]
    if missing:
        return f"SLURM test cluster: {', '.join(missing)} not installed (tests/slurm/install.sh installs them)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log and log.exists() else ""
    raise RuntimeError(f"test cluster: {what} not ready after {timeout:.0f} s\n{tail}")


class Cluster:
    def __init__(self, root: Path, cpus: int | None = None, memory_mb: int | None = None):
        self.root = Path(root).resolve()
        self.cpus = cpus or len(os.sched_getaffinity(0))
        # Leave room for the daemons and the test itself; slurmd rejects a node that
        # claims more memory than it has.
        total_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
        self.memory_mb = memory_mb or int(total_mb * 0.8)
        self.node = socket.gethostname().split(".")[0]
        self.ports = {name: free_port() for name in ("ctld_port", "slurmd_port", "dbd_port", "db_port")}
        self.munge_socket = self.root / "run" / "munge.socket"
        self.db_socket = self.root / "run" / "mariadb.sock"
        self.conf = self.root / "etc" / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment for SLURM commands against this cluster.

        The executor's job step drops SLURM_* variables before it calls srun inside
        a job, SLURM_CONF included; a real cluster keeps slurm.conf in /etc/slurm,
        this one puts an srun that knows its config first on PATH."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.root / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    # -- start and stop ------------------------------------------------------------

    def start(self) -> None:
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        for sub in ("etc", "run", "log", "state", "spool", "db", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # munged refuses sockets in group/world-writable folders
        try:
            self._write_configs()
            self._start_munge()
            self._start_mariadb()
            self._start_slurmdbd()
            self._register_accounts()
            self._start_slurm()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel what is still queued, then end the daemons in reverse start order."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user=root"], env=self.env, capture_output=True, timeout=30)
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    def __enter__(self) -> "Cluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pieces --------------------------------------------------------------------

    def _fill(self, template: str, target: Path, mode: int = 0o644) -> None:
        values = {
            "root": self.root,
            "cluster": CLUSTER,
            "partition": PARTITION,
            "host": self.node,
            "node": self.node,
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "munge_socket": self.munge_socket,
            "db_password": self.db_password,
            **self.ports,
        }
        target.write_text(string.Template((HERE / template).read_text()).substitute(values))
        os.chmod(target, mode)

    def _write_configs(self) -> None:
        self.db_password = secrets.token_hex(12)
        etc = self.root / "etc"
        self._fill("slurm.conf.in", etc / "slurm.conf")
        self._fill("gres.conf.in", etc / "gres.conf")
        self._fill("slurmdbd.conf.in", etc / "slurmdbd.conf", mode=0o600)
        srun = self.root / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which("srun")} "$@"\n')
        os.chmod(srun, 0o755)

    def _daemon(self, name: str, command: list[str], log: str) -> subprocess.Popen:
        with open(self.root / "log" / log, "ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=self.root
            )
        self.processes[name] = process
        return process

    def _alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            log = self.root / "log" / f"{name}.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"test cluster: {name} exited with status {process.returncode}\n{tail}")

    def _ok(self, command: list[str]) -> bool:
        return subprocess.run(command, env=self.env, capture_output=True, timeout=30).returncode == 0

    def _start_munge(self) -> None:
        key = self.root / "etc" / "munge.key"
        subprocess.run(["mungekey", "--create", "--force", f"--keyfile={key}"], check=True, capture_output=True)
        os.chmod(key, 0o600)
        self._daemon(
            "munged",
            [
                "munged", "--foreground", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
                f"--pid-file={self.root / 'run' / 'munged.pid'}", f"--seed-file={self.root / 'state' / 'munge.seed'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
            ],
            "munged.out",
        )  # fmt: skip
        wait_for(
            "munged", lambda: self._alive("munged") or self.munge_socket.exists(), 20, self.root / "log" / "munged.log"
        )

    def _sql(self, statement: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.db_socket}", "--user=root", "--execute", statement],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def _start_mariadb(self) -> None:
        data = self.root / "db"
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
             "--auth-root-authentication-method=socket"],
            check=True, capture_output=True,
        )  # fmt: skip
        self._daemon(
            "mariadbd",
            [
                "mariadbd", "--no-defaults", f"--datadir={data}", "--user=root", f"--socket={self.db_socket}",
                f"--port={self.ports['db_port']}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                f"--pid-file={self.root / 'run' / 'mariadbd.pid'}", f"--log-error={self.root / 'log' / 'mariadbd.log'}",
                # slurmdbd's recommended settings, scaled down
                "--innodb-buffer-pool-size=128M", "--innodb-lock-wait-timeout=900",
            ],
            "mariadbd.out",
        )  # fmt: skip

        def ready():
            self._alive("mariadbd")
            return self._sql("SELECT 1").returncode == 0

        wait_for("mariadbd", ready, 60, self.root / "log" / "mariadbd.log")
        result = self._sql(
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_password}';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        if result.returncode != 0:
            raise RuntimeError(f"test cluster: could not create the slurm database user: {result.stderr}")

    def _start_slurmdbd(self) -> None:
        self._daemon("slurmdbd", ["slurmdbd", "-D"], "slurmdbd.out")

        def ready():
            self._alive("slurmdbd")
            return self._ok(["sacctmgr", "--noheader", "list", "cluster"])

        wait_for("slurmdbd", ready, 60, self.root / "log" / "slurmdbd.log")

    def _register_accounts(self) -> None:
        """The cluster, one account, and root in it as its default account."""
        for command in (
            ["add", "cluster", CLUSTER],
            ["add", "account", ACCOUNT, f"cluster={CLUSTER}", "description=regscale tests", "organization=regscale"],
            ["add", "user", "root", f"account={ACCOUNT}", f"defaultaccount={ACCOUNT}", f"cluster={CLUSTER}"],
        ):
            result = subprocess.run(["sacctmgr", "--immediate", *command], env=self.env, capture_output=True, text=True)
            if result.returncode != 0 and "Nothing new added" not in result.stdout + result.stderr:
                raise RuntimeError(f"test cluster: sacctmgr {' '.join(command)} failed: {result.stdout}{result.stderr}")

    def _start_slurm(self) -> None:
        self._daemon("slurmctld", ["slurmctld", "-D", "-i"], "slurmctld.out")
        self._daemon("slurmd", ["slurmd", "-D"], "slurmd.out")

        def idle():
            self._alive("slurmctld")
            self._alive("slurmd")
            out = subprocess.run(
                ["sinfo", "--noheader", "--Node", "--format=%t"], env=self.env, capture_output=True, text=True
            )
            return out.returncode == 0 and out.stdout.split() == ["idle"]

        wait_for("the node (sinfo: idle)", idle, 60, self.root / "log" / "slurmd.log")

    # -- queries -------------------------------------------------------------------

    def logs(self, lines: int = 20) -> str:
        """The last lines of each daemon's log, for a failure message."""
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def sacct(self, *fields: str, since: str = "now-1hours", duplicates: bool = False) -> list[dict[str, str]]:
        """One dict per job allocation (no steps) that accounting knows, oldest first;
        with ``duplicates``, one per run of a requeued job, not only its last."""
        out = subprocess.run(
            ["sacct", "--allocations", "--parsable2", "--noheader", f"--starttime={since}",
             f"--format={','.join(fields)}", "--allusers", *(["--duplicates"] if duplicates else [])],
            env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return [dict(zip(fields, line.split("|"))) for line in out.stdout.splitlines() if line]


if __name__ == "__main__":
    with Cluster(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/regscale-slurm")) as cluster:
        print(f"export SLURM_CONF={cluster.conf} PATH={cluster.root / 'bin'}:$PATH  # Ctrl-C stops the cluster")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
