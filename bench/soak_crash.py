"""Crash soak: SIGKILL the receiver at random moments under load, many times; nothing that got
a 200 may be missing afterwards.

    python -m bench.soak_crash --kills 50                       # SQLite, a temporary file
    python -m bench.soak_crash --kills 50 --database-url postgresql://postgres@127.0.0.1/soak
    python -m bench.soak_crash --kills 20 --database-url postgresql://... --kill-postgres

``--kill-postgres`` also stops PostgreSQL itself with ``pg_ctlcluster ... stop -m immediate`` (a
crash for the database) on every other round, then starts it again: it needs the local cluster
and the rights to control it. Results that were stored but not acknowledged (the kill fell
between the commit and the answer) are counted too: the terminal would send them again and the
receiver would take them as re-deliveries.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.receiver.helpers import SECRET, TOKEN, migrate_if_postgres, serve_env, serve_process
from tests.receiver.test_crash import _post_until_killed, _stored_order_ids


def _postgres(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[0].name
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "immediate"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    if action == "start":
        for _ in range(60):
            ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.5)


def soak(kills: int, database_url: str | None, *, kill_postgres: bool, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = database_url or f"sqlite:///{directory / 'soak.sqlite3'}"
        migrate_if_postgres(url)
        env = serve_env(NETPAY_WEBHOOK_SECRET=SECRET, NETPAY_API_TOKEN=TOKEN)
        acked: set[str] = set()
        rounds = []
        started = time.monotonic()
        for round_ in range(kills):
            with serve_process(directory, "--database-url", url, "--no-access-log", env=env) as s:
                s.wait_ready()
                delay = rng.uniform(0.3, 1.5)
                got, _ = _post_until_killed(s, f"r{round_}", delay)
                acked |= got
            database_crash = kill_postgres and url.startswith("postgres") and round_ % 2 == 1
            if database_crash:
                _postgres("stop")
                _postgres("start")
            rounds.append({"round": round_, "delay": round(delay, 3), "acked": len(got),
                           "database_crash": database_crash})  # fmt: skip
        with serve_process(directory, "--database-url", url, "--no-access-log", env=env) as s:
            s.wait_ready()
            s.wait_caught_up(timeout=300)  # the last restart catches up after it is ready
            stored = _stored_order_ids(s.base)
            s.process.terminate()
            s.process.wait(15)
    missing = sorted(acked - stored)
    return {
        "database": url.split(":")[0],
        "kills": kills,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "acked": len(acked),
        "stored": len(stored),
        "missing": len(missing),
        "missing_examples": missing[:10],
        "stored_not_acked": len(stored - acked),
        "rounds": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--kill-postgres", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    result = soak(args.kills, args.database_url, kill_postgres=args.kill_postgres, seed=seed)
    summary = {k: v for k, v in result.items() if k != "rounds"}
    print(json.dumps(summary, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"soak-{result['database']}.json").write_text(json.dumps(result, indent=2))
    return 1 if result["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
