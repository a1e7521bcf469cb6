"""One dataset example joined with everything it came from, in the pieces every export needs.

Eval tools split a conversation differently (DeepEval: input + turns, Giskard: question +
history, chat JSONL: the whole list), so the split is made once here and every format agrees.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, Message, Policy, TestCase, UseCase
from synthgen.schemas.manifest import InputDocument


class CitedEvidence(BaseModel):
    """A quote with its line range and the policy it grounds: what a failing test traces back to."""

    model_config = ConfigDict(extra="forbid")

    policy_id: str
    line_start: int
    line_end: int
    quote: str


class ExampleLineage(BaseModel):
    """IDs, source document and cited evidence of one example; every format carries it whole."""

    model_config = ConfigDict(extra="forbid")

    example_id: str
    test_case_id: str
    use_case_id: str
    policy_ids: list[str]
    document_id: str
    document_path: str
    document_sha256: str
    run_id: str
    axis_values: dict[str, str]
    evaluation_criteria: list[EvaluationCriterion]


@dataclass(frozen=True)
class ExampleView:
    example: DatasetExample
    test_case: TestCase
    use_case: UseCase
    policies: list[Policy]
    document: InputDocument
    run_id: str

    @property
    def system_prompt(self) -> str | None:
        # Tools without a system-prompt field get it in metadata; several system turns are rare
        # enough that joining them loses nothing a reader needs.
        parts = [m.content for m in self.example.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    @property
    def dialogue(self) -> list[Message]:
        """The user and assistant turns, ending with the user turn the expected output answers."""
        return [m for m in self.example.messages if m.role != "system"]

    @property
    def question(self) -> str:
        # validate_run guarantees the last message is the user's.
        return self.example.messages[-1].content

    @property
    def history(self) -> list[Message]:
        """The turns before the final question."""
        return self.dialogue[:-1]

    @property
    def is_multi_turn(self) -> bool:
        return bool(self.history)

    @property
    def criteria(self) -> list[str]:
        return [c.criterion for c in self.example.evaluation_criteria]

    @property
    def evidence(self) -> list[CitedEvidence]:
        """Every quote the criteria cite, once each, in the order first cited."""
        seen: dict[tuple[str, int, int, str], CitedEvidence] = {}
        for criterion in self.example.evaluation_criteria:
            for cited in criterion.evidence:
                key = (criterion.policy_id, cited.line_start, cited.line_end, cited.quote)
                seen.setdefault(key, CitedEvidence(policy_id=criterion.policy_id, **cited.model_dump()))
        return list(seen.values())

    @property
    def quotes(self) -> list[str]:
        return [e.quote for e in self.evidence]

    def lineage(self) -> ExampleLineage:
        return ExampleLineage(
            example_id=self.example.id,
            test_case_id=self.test_case.id,
            use_case_id=self.use_case.id,
            policy_ids=[p.id for p in self.policies],
            document_id=self.document.id,
            document_path=self.document.path,
            document_sha256=self.document.sha256,
            run_id=self.run_id,
            axis_values=dict(self.example.metadata.axis_values),
            evaluation_criteria=list(self.example.evaluation_criteria),
        )


def example_views(run: LoadedRun) -> Iterator[ExampleView]:
    """Each example in dataset order; lookups cannot fail because the run passed validation."""
    for example in run.examples:
        test_case = run.test_case_by_id[example.test_case_id]
        yield ExampleView(
            example=example,
            test_case=test_case,
            use_case=run.use_case_by_id[test_case.use_case_id],
            policies=[run.policy_by_id[p] for p in test_case.policy_ids],
            document=run.document_by_id[test_case.document_id],
            run_id=run.manifest.run_id,
        )
