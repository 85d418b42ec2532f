"""What every part shares: the run's settings, goals with PASS/FAIL, tables, the machine."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.servers import can_pin, postgres_available, postgres_version


@dataclass
class Config:
    """One run's settings, from the environment (see bench/__main__.py)."""

    quick: bool = False
    tool: str = "auto"  # closed-loop load: auto (wrk if installed), wrk or builtin
    pg_url: str | None = None  # None: PostgreSQL unreachable, its rows are skipped
    rows: int = 100_000  # dashboard

    @classmethod
    def from_env(cls) -> Config:
        quick = os.environ.get("NETPAY_BENCH_QUICK", "") not in ("", "0")
        rows = os.environ.get("NETPAY_BENCH_ROWS")
        return cls(
            quick=quick,
            tool=os.environ.get("NETPAY_BENCH_LOAD", "auto"),
            pg_url=None if os.environ.get("NETPAY_BENCH_NO_PG") else postgres_available(),
            rows=int(rows) if rows else (20_000 if quick else 100_000),
        )


@dataclass
class Goal:
    """One goal of issue #6, what was measured, and whether it passed (None: not measured)."""

    goal: str
    measured: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.ok]


@dataclass
class Part:
    """A part's result: a table, its goals and the raw numbers (saved as JSON)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"goals": [asdict(g) | {"verdict": g.verdict} for g in self.goals]}


RESULTS = Path(__file__).resolve().parent / "results"


def save_results(name: str, data: Any) -> Path:
    """``data`` as ``bench/results/{name}.json``, for the scripts run alone (catchup,
    awaited)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def text_table(columns: list[str], rows: list[list[Any]]) -> str:
    cells = [columns, *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_part(part: Part) -> None:
    print(f"\n== {part.title} ({part.seconds:.0f} s)")
    if part.error:
        print(f"CRASHED: {part.error}")
    if part.rows:
        print(text_table(part.columns, part.rows))
    for note in part.notes:
        print(f"  note: {note}")
    for goal in part.goals:
        print(f"  [{goal.verdict}] {goal.goal}: {goal.measured}")
    sys.stdout.flush()


def markdown_part(part: Part) -> str:
    out = [f"### {part.title}", ""]
    if part.error:
        out += [f"**Crashed:** `{part.error}`", ""]
    if part.rows:
        out += [markdown_table(part.columns, part.rows), ""]
    for note in part.notes:
        out.append(f"- {note}")
    if part.notes:
        out.append("")
    if part.goals:
        out += ["| goal | measured | verdict |", "|---|---|---|"]
        out += [f"| {g.goal} | {g.measured} | **{g.verdict}** |" for g in part.goals]
        out.append("")
    return "\n".join(out)


def _run(command: list[str]) -> str:
    if not shutil.which(command[0]):
        return ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def fsync_ms(directory: str, count: int = 200) -> dict[str, float]:
    """What one durable commit costs on this disk: a 4 KiB write then fdatasync, p50/p99 ms."""
    import tempfile
    import time

    timings = []
    with tempfile.NamedTemporaryFile(dir=directory) as handle:
        block = b"x" * 4096
        for _ in range(count):
            handle.write(block)
            handle.flush()
            started = time.perf_counter()
            os.fdatasync(handle.fileno())
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"p50": round(timings[count // 2], 3), "p99": round(timings[int(count * 0.99)], 3)}


def machine(pg_url: str | None) -> dict[str, Any]:
    """The machine the numbers come from."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = re.findall(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    mhz = re.findall(r"^cpu MHz\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+)", meminfo)
    import tempfile

    tmp = tempfile.gettempdir()
    disk = _run(["df", "-h", "--output=source,fstype,size,avail", tmp]).splitlines()
    device = disk[-1].split()[0] if len(disk) > 1 else ""
    rotational = ""
    name = Path(device).name
    for candidate in (name, re.sub(r"\d+$", "", name)):
        flag = Path(f"/sys/block/{candidate}/queue/rotational")
        if candidate and flag.exists():  # virtio disks often say 1 whatever is behind them
            rotational = f"rotational={flag.read_text().strip()}"
            break
    versions: dict[str, str] = {}
    for module in ("uvicorn", "uvloop", "httptools", "starlette", "sqlalchemy", "msgspec",
                   "psycopg", "fastapi", "pydantic", "httpx"):  # fmt: skip
        try:
            from importlib.metadata import version

            versions[module] = version(module)
        except Exception:
            versions[module] = "-"
    commit = _run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", str(Path(__file__).parent), "status", "--porcelain", "--", "../src"])
    return {
        "source": f"{commit or '?'}{' + uncommitted changes in src/' if dirty else ''}",
        "nproc": os.cpu_count(),
        "fsync_ms": fsync_ms(tmp),
        "cpu_model": models[0] if models else platform.processor(),
        "cpu_mhz": mhz[0] if mhz else None,
        "ram_gib": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "disk": (disk[-1] + (f" ({rotational})" if rotational else "")) if disk else "",
        "tmp_dir": tmp,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(pg_url) if pg_url else None,
        "wrk": _run(["wrk", "--version"]).splitlines()[0] if shutil.which("wrk") else None,
        "pinned": "server taskset -c 0, load taskset -c 1" if can_pin() else "no",
        "packages": versions,
    }
