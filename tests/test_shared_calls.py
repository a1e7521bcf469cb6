"""One calls.jsonl shared by several processes (a run and its workers): appends never mix, and an answer
another process recorded is never asked of the model again."""

import asyncio
import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel

from synthgen.orchestrator.llm.calls_file import read_calls, record_line
from synthgen.orchestrator.llm.costs import CostLedger
from synthgen.orchestrator.llm.recording import CallLog, RecordingModel, calling

# Another process's recorder: answers `question` once, into the calls.jsonl it is given.
OTHER_PROCESS = """
import asyncio, sys
from pathlib import Path
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import FunctionModel
from synthgen.orchestrator.llm.costs import CostLedger
from synthgen.orchestrator.llm.recording import CallLog, RecordingModel, calling

path, question, size, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = RecordingModel(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("a" * size)]), model_name="scripted"),
                       CallLog(path), "record", CostLedger(None, "function:scripted"))
async def main():
    for n in range(count):
        with calling("write", f"{question} {n}"):
            await model.request([ModelRequest(parts=[UserPromptPart(f"{question} {n}")])], None, ModelRequestParameters())
asyncio.run(main())
"""


def _other_process(path: Path, question: str, size: int = 10, count: int = 1) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, str(path), question, str(size), str(count)])


def _recorder(log: CallLog, asked: list[str]) -> RecordingModel:
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        asked.append(str(messages[-1].parts[0].content))  # type: ignore[union-attr]
        return ModelResponse(parts=[TextPart("answered here")])

    return RecordingModel(FunctionModel(answer, model_name="scripted"), log, "record", CostLedger(None, "scripted"))


def _ask(model: RecordingModel, question: str) -> ModelResponse:
    async def ask() -> ModelResponse:
        with calling("write", question):
            request = ModelRequest(parts=[UserPromptPart(question)])
            return await model.request([request], None, ModelRequestParameters())

    return asyncio.run(ask())


def test_an_answer_another_process_recorded_is_not_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    asked: list[str] = []
    here = _recorder(CallLog(path), asked)  # read calls.jsonl (empty) before the other process wrote
    _ask(here, "first")
    assert _other_process(path, "shared").wait(timeout=60) == 0

    answer = _ask(here, "shared 0")
    assert asked == ["first"]  # the worker's answer came from the file, not from the model
    assert answer.parts == [TextPart("a" * 10)]
    records = read_calls(path)
    assert [r.item for r in records.records] == ["first", "shared 0"] and not records.problems


def test_a_run_starting_waits_for_a_record_being_written(tmp_path: Path) -> None:
    """A process that opens calls.jsonl while another is half-way through a record must not take that
    half for a crash's torn line and cut it off."""
    path = tmp_path / "calls.jsonl"
    assert _other_process(path, "whole").wait(timeout=60) == 0
    line = record_line(read_calls(path).records[0])  # the same record again: only its bytes matter here
    writer = os.open(path, os.O_WRONLY | os.O_APPEND)
    fcntl.flock(writer, fcntl.LOCK_EX)  # how every writer appends (llm/calls_file.py)
    os.write(writer, line[: len(line) // 2])
    opened: list[CallLog] = []
    opening = threading.Thread(target=lambda: opened.append(CallLog(path)))
    opening.start()
    opening.join(timeout=0.5)
    assert opening.is_alive()  # waits for the writer
    os.write(writer, line[len(line) // 2 :])
    os.close(writer)
    opening.join(timeout=10)
    found = read_calls(path)
    assert len(found.records) == 2 and not found.problems and not found.torn
    assert len(opened[0].records) == 1  # the same key twice


def test_a_dead_writers_torn_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    asked: list[str] = []
    here = _recorder(CallLog(path), asked)
    _ask(here, "before")
    with path.open("ab") as dead:  # a worker killed half-way through a record, after this process read the file
        dead.write(b'{"key": "0123", "model": "scripted", "stage": "wri')
    _ask(here, "after")
    found = read_calls(path)
    assert [r.item for r in found.records] == ["before", "after"]
    assert not found.problems and not found.torn
    # And a whole record whose newline was lost keeps it: the next record starts on a line of its own.
    with path.open("ab") as cut:
        cut.write(record_line(found.records[0]).rstrip(b"\n"))
    _ask(here, "last")
    assert [r.item for r in read_calls(path).records] == ["before", "after", "before", "last"]


def test_processes_appending_together_leave_every_record_whole(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    # Records far larger than a pipe or stdio buffer, several processes at once.
    writers = [_other_process(path, f"process {n}", size=200_000, count=8) for n in range(3)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    found = read_calls(path)
    assert not found.problems and not found.torn
    assert sorted(r.item for r in found.records) == sorted(f"process {p} {n}" for p in range(3) for n in range(8))
