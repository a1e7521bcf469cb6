"""Test-design agent: use cases + policies -> named variation axes tied to policies.

Combinations are not the model's business: `tools.combinatorics` picks them from these axes.
"""

from dataclasses import dataclass

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.extraction import retry_message
from synthgen.agents.prompts import load_prompt
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import TestDesignDraft
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
        f"Document: {deps.document.path}\n\n"
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


@test_design_agent.output_validator
def validate_test_design(ctx: RunContext[TestDesignDeps], draft: TestDesignDraft) -> TestDesignDraft:
    """Axes must cite real policies, have distinct names and distinct values."""
    valid_ids = [policy.id for policy in ctx.deps.policies]
    known = set(valid_ids)
    problems: list[str] = []
    seen_names: set[str] = set()
    for number, axis in enumerate(draft.axes, 1):
        label = f"axis {number} ({axis.name!r})"
        if axis.name == RESERVED_AXIS:
            problems.append(
                f"{label}: {RESERVED_AXIS!r} is reserved (use cases are added as an axis automatically); remove this axis"
            )
        elif axis.name in seen_names:
            problems.append(f"{label}: another axis already has this name; merge them or rename one")
        seen_names.add(axis.name)

        unknown = [policy_id for policy_id in axis.policy_ids if policy_id not in known]
        if unknown:
            problems.append(
                f"{label}: unknown policy ids {', '.join(unknown)}; valid ids are {', '.join(valid_ids) or 'none'}"
            )

        first_spelling: dict[str, str] = {}
        for value in axis.values:
            key = _value_key(value)
            if not key:
                problems.append(f"{label}: a value is empty; every value must describe a situation")
            elif key in first_spelling:
                problems.append(
                    f"{label}: values {first_spelling[key]!r} and {value!r} are the same; make the values distinct"
                )
            else:
                first_spelling[key] = value
    if problems:
        raise ModelRetry(retry_message(problems))
    return draft
