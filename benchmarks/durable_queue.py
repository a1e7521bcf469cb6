"""Many documents against a model at a fixed latency: how close a run comes to the physical limit.

    .venv/bin/python benchmarks/durable_queue.py [--documents 100] [--latency 0.2] [--concurrency 16]

The fake OpenAI server (127.0.0.1) answers every call after `--latency` seconds. The run's own call
graph, read back from its calls.jsonl, gives the ideal wall time: a document's calls form levels
that must follow one another (candidate batches -> skipped candidates asked again -> use cases ->
test design -> [every document's design, for --max-examples] -> examples -> review -> revision ->
review ...), and `--concurrency` calls can be
in flight at once, so each phase takes at least max(its calls x latency / concurrency, its longest
chain x latency). The ratio measured / ideal is printed (target <= 1.10), with the CPU seconds the
processes used: when they come near the wall time, the run waits for the CPU, not for the model.

Then the same on Postgres with one and two processes (the run, and the run plus one `synthgen
worker`), and DBOS's own cost per step (an empty step) on SQLite and on Postgres. Postgres parts
need the server binaries (Debian's postgresql) and are skipped without them.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from synthgen.testing.fake_openai import FakeOpenAIServer
from synthgen.testing.postgres import postgres_binaries, throwaway_postgres

TOPICS = ["refunds", "exchanges", "shipping", "accounts", "payments", "privacy", "warranty", "loyalty"]
RULES = [
    "Agents must verify the customer's identity before changing an order.",
    "Refunds may only go back to the original payment method.",
    "Agents should never share another customer's data.",
    "An order that has shipped cannot be cancelled, only returned.",
    "Customers must confirm every change before it is made.",
]


def write_library(root: Path, documents: int, seed: int = 7) -> None:
    """`documents` short, distinct policy documents: two sections each, rules with modal verbs."""
    rng = random.Random(seed)
    for number in range(documents):
        topics = rng.sample(TOPICS, 2)
        lines = [f"# Policy {number}: {topics[0]} and {topics[1]}", ""]
        for topic in topics:
            lines += [f"## {topic.capitalize()} (region {number})", ""]
            lines += [f"- {rule.rstrip('.')} for {topic} in region {number}." for rule in rng.sample(RULES, 3)]
            lines.append("")
        (root / f"policy_{number:03d}.md").write_text("\n".join(lines))


def ideal_seconds(calls_path: Path, latency: float, concurrency: int, slots: int) -> tuple[float, int]:
    """The run's lower bound from its own calls: (seconds, calls)."""
    records = [json.loads(line) for line in calls_path.read_text().splitlines()]
    plan = [r for r in records if r["stage"] in ("extract", "design")]
    examples = [r for r in records if r["stage"] in ("write", "supervise")]
    # Longest chain of the plan phase, per document: its candidate batches (in parallel), the batches of
    # candidates skipped (asked again), its use cases, its test design.
    asked_again = {r["item"].split(" skipped candidates ")[0] for r in plan if " skipped candidates " in r["item"]}
    plan_chain = 3 + bool(asked_again)
    # Longest chain of the examples phase: an example, then per revision a review and a rewrite, then
    # the last review. Revisions of one test case share their item name.
    revisions = Counter(r["item"] for r in examples if r["item"].startswith("revision for"))
    deepest = max(revisions.values(), default=0)
    chain = {"plan": plan_chain, "examples": 1 + 2 * deepest + 1}
    phases = {"plan": len(plan), "examples": len(examples)}
    seconds = sum(max(phases[p] * latency / (concurrency * slots), chain[p] * latency) for p in phases)
    return seconds, len(records)


def run(library: Path, out: Path, base_url: str, concurrency: int, *more: str, workers: int = 0,
        database_url: str | None = None) -> tuple[float, float]:  # fmt: skip
    """(wall seconds, CPU seconds of the run and its workers)."""
    env = {**os.environ, "OPENAI_API_KEY": "sk-benchmark-not-a-key"}
    command = [sys.executable, "-m", "synthgen", "agent", "run", str(library), "--out", str(out), "--base-url",
               base_url, "--model", "gpt-4o-mini", "--concurrency", str(concurrency), "-q", *more]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    started, cpu = time.monotonic(), _children_cpu()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    helpers = []
    if workers:
        while not queued(database_url or ""):  # a worker joins a run once its documents are queued
            if process.poll() is not None:
                break
            time.sleep(0.05)
        helpers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "synthgen",
                    "worker",
                    "--database-url",
                    database_url or "",
                    "--id",
                    f"bench-{n}",
                    "-q",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for n in range(workers)
        ]
    _, stderr = process.communicate()
    elapsed = time.monotonic() - started
    for helper in helpers:
        helper.wait(timeout=60)
    if process.returncode != 0:
        raise SystemExit(f"the run failed: {stderr.strip().splitlines()[-1] if stderr.strip() else process.returncode}")
    return elapsed, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def queued(url: str) -> bool:
    from dbos import DBOSClient

    from synthgen.orchestrator.run.durable import quiet_dbos

    try:
        with quiet_dbos():
            client = DBOSClient(system_database_url=url)
    except Exception:  # noqa: BLE001 - not created yet
        return False
    try:
        return bool(client.list_workflows(status="ENQUEUED", load_input=False, load_output=False, limit=1))
    except Exception:  # noqa: BLE001 - DBOS's tables are not there yet
        return False
    finally:
        client.destroy()


async def step_overhead(url: str, steps: int = 300) -> float:
    """Seconds DBOS adds per step: a workflow of `steps` empty steps, minus the same calls undecorated."""
    from dbos import DBOS

    async def bare() -> int:
        return 1

    step = DBOS.step(name=f"bench.empty.{abs(hash(url))}")(bare)

    @DBOS.workflow(name=f"bench.workflow.{abs(hash(url))}")
    async def workflow() -> int:
        return sum([await step() for _ in range(steps)])

    DBOS(config={"name": "bench", "system_database_url": url, "application_version": "bench", "log_level": "WARNING",
                 "run_admin_server": False})  # fmt: skip
    DBOS.launch()
    try:
        started = time.monotonic()
        await workflow()
        durable = time.monotonic() - started
        started = time.monotonic()
        for _ in range(steps):
            await bare()
        plain = time.monotonic() - started
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=0)
    return (durable - plain) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-examples", type=int, default=None)
    args = parser.parse_args()
    more = ["--max-examples", str(args.max_examples)] if args.max_examples else []
    rows = []
    arrivals: list[float] = []  # when each request reached the server

    def stamp(number: int, body: dict) -> None:
        arrivals.append(time.monotonic())

    with (
        tempfile.TemporaryDirectory(prefix="synthgen-bench-") as tmp,
        FakeOpenAIServer(delay=args.latency, max_requests=100_000, max_seconds=3600, fault_for=stamp) as server,
    ):
        root = Path(tmp)
        library = root / "library"
        library.mkdir()
        write_library(library, args.documents)

        def measure(label: str, out: Path, slots: int = 1, **kwargs: object) -> None:
            arrivals.clear()
            elapsed, cpu = run(library, out, server.base_url, args.concurrency, *more, **kwargs)  # type: ignore[arg-type]
            ideal, calls = ideal_seconds(out / "calls.jsonl", args.latency, args.concurrency, slots)
            examples = len((out / "dataset.jsonl").read_text().splitlines())
            # The part of the wall time the model calls span: from the first request to the last answer.
            # The rest is the process starting (imports, DBOS's launch) and ending (files, DBOS's shutdown).
            calling = max(arrivals) + args.latency - min(arrivals)
            rows.append((label, calls, examples, ideal, elapsed, calling, cpu))
            print(f"{label:<28} {calls:>5} calls {examples:>4} examples  ideal {ideal:6.2f} s  "
                  f"measured {elapsed:6.2f} s  ratio {elapsed / ideal:4.2f}  calls span {calling:6.2f} s  "
                  f"ratio {calling / ideal:4.2f}  CPU {cpu:6.2f} s", flush=True)  # fmt: skip

        measure("SQLite, 1 process", root / "sqlite")
        if postgres_binaries() is None:
            print("Postgres: skipped (no server binaries: apt-get install postgresql)")
        else:
            for processes in (1, 2):
                with throwaway_postgres() as url:
                    measure(f"Postgres, {processes} process(es)", root / f"pg{processes}", slots=processes,
                            workers=processes - 1, database_url=url)  # fmt: skip
        overhead = {"SQLite": asyncio.run(step_overhead(f"sqlite:///{root / 'steps.sqlite'}"))}
        if postgres_binaries() is not None:
            with throwaway_postgres() as url:
                overhead["Postgres"] = asyncio.run(step_overhead(url))
        for name, seconds in overhead.items():
            print(f"DBOS overhead per step, {name}: {seconds * 1000:.2f} ms")
    print()
    print("| run | calls | examples | ideal (s) | measured (s) | ratio | calls span (s) | ratio | CPU (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, calls, examples, ideal, elapsed, calling, cpu in rows:
        print(f"| {label} | {calls} | {examples} | {ideal:.2f} | {elapsed:.2f} | {elapsed / ideal:.2f} | "
              f"{calling:.2f} | {calling / ideal:.2f} | {cpu:.1f} |")  # fmt: skip
    for name, seconds in overhead.items():
        print(f"| DBOS step overhead, {name} | | | | {seconds * 1000:.2f} ms | | | | |")


if __name__ == "__main__":
    main()
