"""Designer agent: use cases + policies -> named variation axes tied to policies, for test cases.

Combinations are not the model's business: `tools.combinatorics` picks them from these axes.
"""

from dataclasses import dataclass

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.shared import pipeline_agent, retry_message
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import DesignDraft
from synthgen.schemas.items import Policy, UseCase
from synthgen.tools.repairs import repair_design

# The name calls.jsonl, the manifest (usage_by_agent, calls, prompts) and the prompt file know this
# agent by: kept from before the module was renamed, so recorded runs and manifests stay the same.
AGENT_NAME = "test_design"


@dataclass(frozen=True)
class DesignerDeps:
    document: SourceDocument
    use_cases: list[UseCase]
    policies: list[Policy]


designer_agent = pipeline_agent(AGENT_NAME, DesignDraft, DesignerDeps)


def designer_prompt(deps: DesignerDeps) -> str:
    """The user message: every use case and policy with the id the answer must refer to."""
    use_cases = "\n".join(f"- {uc.id} | {uc.name} | goal: {uc.goal}" for uc in deps.use_cases)
    policies = "\n".join(_policy_line(policy) for policy in deps.policies)
    return (
        f"Document: {deps.document.file_name}\n\n"
        f"<use_cases>\n{use_cases}\n</use_cases>\n\n"
        f"<policies>\n{policies}\n</policies>\n\n"
        "Design the variation axes. Refer to policies by the pol_ ids above."
    )


def _policy_line(policy: Policy) -> str:
    conditions = "; ".join(policy.conditions) or "always"
    return f"- {policy.id} | {policy.kind} | {policy.statement} | when: {conditions}"


@designer_agent.output_validator
def validate_design(ctx: RunContext[DesignerDeps], draft: DesignDraft) -> DesignDraft:
    """Axes must cite real policies, have distinct names and distinct values.

    What can be repaired deterministically is (tools/repairs.py), and counted in the answer's
    `repairs`. Only an answer with no usable axis goes back to the model.
    """
    repaired = repair_design(draft, ctx.deps.policies)
    if not repaired.result:
        raise ModelRetry(
            retry_message(
                [
                    *repaired.problems,
                    "no axis is usable: give at least one axis with two distinct values and a policy id from the list",
                ]
            )
        )
    return draft.model_copy(update={"axes": repaired.result, "repairs": repaired.counts})
