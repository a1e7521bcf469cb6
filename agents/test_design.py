"""Test-design agent: use cases + policies -> named variation axes tied to policies.

Combinations are not the model's business: `tools.combinatorics` picks them from these axes.
"""

from dataclasses import dataclass

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.extraction import retry_message
from synthgen.agents.prompts import load_prompt
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import AxisDraft, TestDesignDraft
from synthgen.schemas.items import Policy, UseCase
from synthgen.tools.evidence import collapse_whitespace

PROMPT = load_prompt("test_design")
RESERVED_AXIS = "use_case"  # the orchestrator adds the use case as an axis itself


@dataclass
class TestDesignDeps:
    __test__ = False  # not a pytest class

    document: SourceDocument
    use_cases: list[UseCase]
    policies: list[Policy]
    repairs: int = 0  # problems the validator repaired in the accepted answer (dropped values or axes)


test_design_agent = Agent(
    None,  # the orchestrator passes model= and model_settings= to each run
    name="test_design",
    output_type=TestDesignDraft,
    deps_type=TestDesignDeps,
    instructions=PROMPT.text,
    retries=2,
    defer_model_check=True,
)


def test_design_prompt(deps: TestDesignDeps) -> str:
    """The user message: every use case and policy with the id the answer must refer to."""
    use_cases = "\n".join(f"- {uc.id} | {uc.name} | goal: {uc.goal}" for uc in deps.use_cases)
    policies = "\n".join(_policy_line(policy) for policy in deps.policies)
    return (
        f"Document: {deps.document.file_name}\n\n"
        f"<use_cases>\n{use_cases}\n</use_cases>\n\n"
        f"<policies>\n{policies}\n</policies>\n\n"
        "Design the variation axes. Refer to policies by the pol_ ids above."
    )


test_design_prompt.__test__ = False  # type: ignore[attr-defined]  # its name starts with "test_"


def _policy_line(policy: Policy) -> str:
    conditions = "; ".join(policy.conditions) or "always"
    return f"- {policy.id} | {policy.kind} | {policy.statement} | when: {conditions}"


def _value_key(value: str) -> str:
    return collapse_whitespace(value).casefold()


# Small models sometimes answer with the schema's own field names as axes: never a real situation.
_SCHEMA_FIELDS = frozenset({"name", "values", "rationale", "policy_ids", "axes"})


@dataclass(frozen=True)
class _AxisReview:
    axis: AxisDraft | None  # the axis as kept (repaired), or None when dropped
    problems: list[str]  # why it was dropped or changed


def _review_axis(number: int, axis: AxisDraft, known: set[str], valid_ids: list[str], seen: set[str]) -> _AxisReview:
    label = f"axis {number} ({axis.name!r})"
    if axis.name == RESERVED_AXIS:
        return _AxisReview(
            None,
            [
                f"{label}: {RESERVED_AXIS!r} is reserved (use cases are added as an axis automatically); remove this axis"
            ],
        )
    if axis.name in _SCHEMA_FIELDS:
        return _AxisReview(
            None, [f"{label}: {axis.name!r} is a field of the answer, not a property of the user's situation"]
        )
    if axis.name in seen:
        return _AxisReview(None, [f"{label}: another axis already has this name; merge them or rename one"])
    problems = []
    unknown = [policy_id for policy_id in axis.policy_ids if policy_id not in known]
    if unknown:
        problems.append(f"{label}: unknown policy ids {', '.join(unknown)}; valid ids are {', '.join(valid_ids)}")
    policy_ids = list(dict.fromkeys(p for p in axis.policy_ids if p in known))
    values: dict[str, str] = {}
    for value in axis.values:
        key = _value_key(value)
        if not key:
            problems.append(f"{label}: a value is empty; every value must describe a situation")
        elif key in values:
            problems.append(f"{label}: values {values[key]!r} and {value!r} are the same; make the values distinct")
        else:
            values[key] = value
    if len(values) < 2 or not policy_ids:
        return _AxisReview(None, problems)
    return _AxisReview(axis.model_copy(update={"values": list(values.values()), "policy_ids": policy_ids}), problems)


@test_design_agent.output_validator
def validate_test_design(ctx: RunContext[TestDesignDeps], draft: TestDesignDraft) -> TestDesignDraft:
    """Axes must cite real policies, have distinct names and distinct values.

    What can be repaired deterministically is: repeated values and unknown policy ids are dropped,
    and an axis left with fewer than two values or no policy is dropped, all counted in
    `deps.repairs`. Only an answer with no usable axis goes back to the model.
    """
    ctx.deps.repairs = 0  # only the accepted answer counts, not the attempts before it
    valid_ids = [policy.id for policy in ctx.deps.policies]
    known = set(valid_ids)
    seen: set[str] = set()
    kept: list[AxisDraft] = []
    problems: list[str] = []
    for number, axis in enumerate(draft.axes, 1):
        review = _review_axis(number, axis, known, valid_ids, seen)
        problems += review.problems
        seen.add(axis.name)
        if review.axis is not None:
            kept.append(review.axis)
    if not kept:
        raise ModelRetry(
            retry_message(
                [
                    *problems,
                    "no axis is usable: give at least one axis with two distinct values and a policy id from the list",
                ]
            )
        )
    ctx.deps.repairs = len(problems)
    return draft.model_copy(update={"axes": kept})
