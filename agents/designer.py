"""Designer agent: a document's use cases and numbered rules -> axes whose values say which rules apply.

Combinations are not the model's business (`tools.combinatorics` picks them), nor are outcomes
(`tools.outcomes` derives them from the rules): the model's one judgement is which rules each
situation triggers or makes inapplicable, checked and repaired by `tools.repairs.repair_design`.
"""

from dataclasses import dataclass

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.shared import is_last_attempt, pipeline_agent, retry_message
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import DesignDraft
from synthgen.schemas.items import Policy, UseCase
from synthgen.tools.repairs import repair_design


@dataclass(frozen=True)
class DesignerDeps:
    document: SourceDocument
    use_cases: list[UseCase]
    rules: list[Policy]  # numbered from 1 in the prompt


designer_agent = pipeline_agent("designer", DesignDraft, DesignerDeps)


def designer_prompt(deps: DesignerDeps) -> str:
    """The user message: the use cases by name, then every rule by number with what it governs."""
    names = {uc.id: uc.name for uc in deps.use_cases}
    use_cases = "\n".join(f"- {uc.name}: {uc.goal}" for uc in deps.use_cases)
    rules = "\n".join(_rule_line(number, rule, names) for number, rule in enumerate(deps.rules, 1))
    return (
        f"Document: {deps.document.file_name}\n\n"
        f"<use_cases>\n{use_cases}\n</use_cases>\n\n"
        f"<rules>\n{rules}\n</rules>\n\n"
        f"Design the axes. Refer to rules by their numbers, 1 to {len(deps.rules)}."
    )


def _rule_line(number: int, rule: Policy, use_case_names: dict[str, str]) -> str:
    conditions = "; ".join(rule.conditions) or "always"
    governs = "all" if rule.applies_to_all else ", ".join(use_case_names.get(u, u) for u in rule.applies_to) or "none"
    return (
        f"{number}. ({rule.kind}, {rule.strength}) {rule.statement} | applies when: {conditions} | use cases: {governs}"
    )


def conditional(rules: list[Policy]) -> bool:
    return any(rule.conditions for rule in rules)


@designer_agent.output_validator
def validate_design(ctx: RunContext[DesignerDeps], draft: DesignDraft) -> DesignDraft:
    """What can be repaired is (tools/repairs.py) and counted in `repairs`; the usable axes are kept.

    An answer without a usable axis goes back to the model while some rule has a condition to vary;
    on the last attempt it is accepted as it is: the rules then get one test case each.
    """
    repaired = repair_design(draft, ctx.deps.rules)
    if not repaired.result and conditional(ctx.deps.rules) and not is_last_attempt(ctx):
        raise ModelRetry(
            retry_message(
                [
                    *repaired.problems,
                    (
                        "no axis is usable: give at least one axis whose values make a "
                        "conditional rule apply under one value and not under another"
                    ),
                ]
            )
        )
    return draft.model_copy(update={"repairs": repaired.counts})
