"""Start-up time of `synthgen` commands, whole process, against `python -c "import typer"` measured in the same run.

    .venv/bin/python benchmarks/startup.py [N]

Each command runs N times (default 5) as its own process; the median wall time is compared
with the median of the baseline, the floor any Typer CLI pays (interpreter start + typer). The
runs are interleaved, one of each command per round, so a busy machine slows them all alike.
`validate` and `eval` run on a run directory replayed once, untimed, from the refund_policy
cassette (evals/cassettes), so they read a real run; nothing reaches the network.
"""

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SYNTHGEN = str(BIN / "synthgen")
CASE = "refund_policy"


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def replayed_run(root: Path) -> Path:
    """A finished run directory, replayed from a cassette."""
    from synthgen.evals.suite import RECORDED_RUNS, replay_into

    case = next(c for c in RECORDED_RUNS if c.name == CASE)
    run_dir = root / CASE
    asyncio.run(replay_into(case, run_dir))
    return run_dir


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="synthgen-startup-") as tmp:
        run_dir = str(replayed_run(Path(tmp)))
        baseline = "python -c 'import typer'"
        commands = {
            baseline: [sys.executable, "-c", "import typer"],
            "synthgen --help": [SYNTHGEN, "--help"],
            "synthgen --version": [SYNTHGEN, "--version"],
            "synthgen validate RUN_DIR": [SYNTHGEN, "validate", run_dir],
            "synthgen eval RUN_DIR": [SYNTHGEN, "eval", run_dir],
        }
        for command in commands.values():
            wall_time(command)  # warm the OS file cache; not counted
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(wall_time(command))
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"median of {runs} runs each, whole process, against {baseline}")
        print(f"{'command':<28}{'seconds':>9}{'ratio':>8}")
        for name, seconds in medians.items():
            print(f"{name:<28}{seconds:>9.3f}{seconds / medians[baseline]:>7.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
