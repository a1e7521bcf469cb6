"""A deterministic, rule-based stand-in for an LLM, for offline tests and demos.

It answers each synthgen agent from the prompt alone, the way a careful model would: candidates
with modal verbs are rules in their own words, headings that do not name a topic area are use
cases, and examples cite the lines the prompt shows. It is wrapped in a pydantic-ai `FunctionModel`, so the agents, their
validators and the whole pipeline run unchanged against it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

_NUMBERED = re.compile(r"^\s*(\d+) \| (.*)$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_RULE = re.compile(
    r"\b(must|should|may|never|only|cannot|can't|will not|required|not allowed|prohibited|do not|don't|shall)\b",
    re.IGNORECASE,
)
_PROHIBITION = re.compile(
    r"\b(must not|never|cannot|can't|do not|don't|not allowed|prohibited|shall not)\b", re.IGNORECASE
)
_PERMISSION = re.compile(r"\b(may|can)\b", re.IGNORECASE)
_POLICY_ID = re.compile(r"\bpol_[0-9a-f]{10,64}\b")
_EXAMPLE_ID = re.compile(r"\bex_[0-9a-f]{10,64}\b")

# Quotes within the draft bound of an evidence quote.
MAX_QUOTE = 450

Decide = Callable[[str, str], tuple[str, str, str]]  # (example id, prompt) -> (decision, instruction, reason)


def _accept_all(example_id: str, prompt: str) -> tuple[str, str, str]:
    return "accept", "", ""


def _user_prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _quotable(text: str) -> str:
    """The line without its list marker, cut to the sentences that fit a quote: still verbatim."""
    quote = _LIST_MARKER.sub("", text).strip()
    if len(quote) <= MAX_QUOTE:
        return quote
    end = quote.rfind(". ", 0, MAX_QUOTE)
    return quote[: end + 1] if end > 0 else quote[:MAX_QUOTE].rsplit(" ", 1)[0]


def _plain(text: str) -> str:
    return re.sub(r"[*_`]+", "", text).strip()


def _kind(statement: str) -> str:
    if _PROHIBITION.search(statement):
        return "prohibition"
    if statement.lower().startswith(("if ", "when ", "unless ")):
        return "condition"
    if _PERMISSION.search(statement) and not re.search(r"\b(must|should|required|shall)\b", statement, re.IGNORECASE):
        return "permission"
    return "obligation"


_CANDIDATE = re.compile(r"^\[(\d+)\] (.*)$")
# A rule's condition, as a careful model would name it: the clause after if, when, unless, within, ...
_CONDITION_CLAUSE = re.compile(r"\b(?:if|when|unless|within|before|after|once)\b [^,.;:]{3,}", re.IGNORECASE)
_HEADING = re.compile(r"^\[(\d+)\] (.*) \(\d+ rules\)$")
# Headings that name a topic area rather than a situation, for the use-case answer.
_TOPIC = re.compile(r"\b(basics?|general|overview|scope|introduction|definitions?|conduct|tone)\b", re.IGNORECASE)


def _strength(statement: str) -> str:
    if re.search(r"\bshould\b", statement, re.IGNORECASE):
        return "should"
    return "may" if _kind(statement) == "permission" else "must"


def extraction_answer(prompt: str) -> dict[str, object]:
    """A decision per numbered candidate: a rule when it has a modal verb, its own text as statement."""
    decisions: list[dict[str, object]] = []
    for line in prompt.splitlines():
        match = _CANDIDATE.match(line)
        if match is None:
            continue
        number, text = int(match.group(1)), match.group(2)
        if text.startswith("code block") or not (_RULE.search(text) and len(text) >= 12):
            reason = "example" if text.startswith("code block") else "description"
            decisions.append({"n": number, "is_rule": False, "reason": reason, "rules": []})
            continue
        clause = _CONDITION_CLAUSE.search(text)
        conditions = [clause.group(0).strip()[:160]] if clause else []
        rule = {
            "kind": _kind(text),
            "strength": _strength(text),
            "statement": "",
            "conditions": conditions,
            "binds": "",
        }
        decisions.append({"n": number, "is_rule": True, "reason": "rule", "rules": [rule]})
    return {"decisions": decisions}


def use_case_answer(prompt: str) -> dict[str, object]:
    """Every heading a situation unless it names a topic area."""
    headings = []
    for line in prompt.splitlines():
        match = _HEADING.match(line)
        if match is None:
            continue
        title = match.group(2).split(" > ")[-1]
        situation = not _TOPIC.search(title)
        headings.append(
            {
                "n": int(match.group(1)),
                "situation": situation,
                "actor": "customer" if situation else "",
                "goal": f"get help with {_plain(title).lower()}" if situation else "",
            }
        )
    return {"headings": headings}


_DESIGN_RULE = re.compile(r"^(\d+)\. \([a-z]+, [a-z]+\) .*? \| applies when: (.*?) \| use cases: .*$")
MAX_SCRIPTED_AXES = 3


def design_answer(prompt: str) -> dict[str, object]:
    """An axis per conditional rule (up to three): the condition holds, or it does not."""
    axes = []
    for line in prompt.splitlines():
        rule = _DESIGN_RULE.match(line)
        if rule is None or rule.group(2) == "always" or len(axes) == MAX_SCRIPTED_AXES:
            continue
        number, condition = int(rule.group(1)), rule.group(2).split(";")[0].strip()[:100]
        axes.append(
            {
                "name": f"condition_of_rule_{number}",
                "values": [
                    {"value": condition, "triggers": [number], "not_applicable": []},
                    {"value": f"not {condition}"[:120], "triggers": [], "not_applicable": [number]},
                ],
                "rationale": "Whether the rule's condition holds.",
            }
        )
    return {"axes": axes}


_WRITER_RULE = re.compile(r"^(pol_[0-9a-f]+) \[[^\]]*\]: (.*)$")
_REPLIES = {
    "comply": "Sure, I can help with that, and here is what happens next: {rule}",
    "refuse": "Unfortunately I can't do that for you. The reason: {rule}",
    "ask_for_information": "Before I go ahead, could you share the details this needs? {rule}",
    "escalate": "I'll transfer you to a specialist who can take this over. {rule}",
    "partially_comply": "I can help with part of this, but unfortunately I can't do all of it. {rule}",
}


def _rule_sources(prompt: str) -> dict[str, tuple[str, int, str]]:
    """pol_ id -> (statement, first cited line, its quotable text) from the writer's prompt."""
    sources: dict[str, tuple[str, int, str]] = {}
    current: tuple[str, str] | None = None
    for line in prompt.splitlines():
        header = _WRITER_RULE.match(line)
        if header:
            current = (header.group(1), header.group(2))
            continue
        numbered = _NUMBERED.match(line)
        if current and numbered and _quotable(numbered.group(2)) and current[0] not in sources:
            sources[current[0]] = (current[1], int(numbered.group(1)), _quotable(numbered.group(2)))
    return sources


def _situation(prompt: str) -> list[str]:
    block = re.search(r"The user's situation:\n((?:- .*\n)+)", prompt)
    values = [line[2:] for line in block.group(1).splitlines()] if block else []
    return [value for value in values if not value.startswith("(")]


def _gist(rule: str) -> str:
    """What a rule is about, in its words but never reading it out: every third word left out, so no run
    of the recited_rule gate's length is the rule's (its markup stays, for the report's escaping tests)."""
    words = rule.split()
    return "This concerns: " + " ".join(word for i, word in enumerate(words) if i % 3 != 2)


def example_answer(prompt: str) -> dict[str, object]:
    """The situation's values in the user's words, and a reply that reaches the outcome the prompt names."""
    outcome = re.search(r"^Expected outcome: ([a-z_]+)", prompt, re.MULTILINE)
    goal = re.search(r"^Goal: (.*)$", prompt, re.MULTILINE)
    sources = _rule_sources(prompt)
    request = f"Hello, I would like to {goal.group(1) if goal else 'get some help'}."
    situation = _situation(prompt)
    first = next(iter(sources.values()), None)
    if situation:
        request += " About my situation: " + "; ".join(situation) + "."
    elif first:  # a case of one rule: the user's question is about what that rule covers
        request += f" My question is about this: {first[0].rstrip('.')}."
    if "<revision_instruction>" in prompt:
        request += " I am asking again with more detail."
    reply = _REPLIES[outcome.group(1) if outcome else "comply"].format(rule=_gist(first[0]) if first else "")
    return {
        "messages": [
            {"role": "system", "content": "You are a support assistant for this service."},
            {"role": "user", "content": request},
        ],
        "expected_output": reply,
        "extra_criteria": [
            {
                "criterion": f"The reply is consistent with this rule: {first[0][:440]}",
                "policy_id": policy_id,
                "evidence": [{"line_start": first[1], "line_end": first[1], "quote": first[2]}],
            }
            for policy_id, first in list(sources.items())[:1]
        ],
    }


@dataclass
class ScriptedModel:
    """Routes each request to the answer for the agent whose output schema it carries."""

    decide: Decide = _accept_all
    extract: Callable[[str], dict[str, object]] = extraction_answer  # the extraction agent's answer to a prompt
    requests: list[str] = field(default_factory=list)  # agent names, in call order

    def supervisor_answer(self, prompt: str) -> dict[str, object]:
        wanted = re.search(r"one verdict for each of these ids: (.*)\.", prompt)
        ids = _EXAMPLE_ID.findall(wanted.group(1)) if wanted else []
        verdicts = []
        for example_id in ids:
            decision, instruction, reason = self.decide(example_id, prompt)
            checks = [{"check": check, "ok": decision != "reject", "why": "read against the rules"} for check in
                      ("outcome", "criteria", "conversation", "axis_values")]  # fmt: skip
            verdicts.append(
                {"item_id": example_id, "checks": checks, "decision": decision, "instruction": instruction,
                 "reason_code": reason}
            )  # fmt: skip
        return {"verdicts": verdicts}

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tool = info.output_tools[0]
        fields = set(tool.parameters_json_schema.get("properties", {}))
        prompt = _user_prompt(messages)
        if "decisions" in fields:
            agent, answer = "extraction", self.extract(prompt)
        elif "headings" in fields:
            agent, answer = "use_cases", use_case_answer(prompt)
        elif "axes" in fields:
            agent, answer = "designer", design_answer(prompt)
        elif "verdicts" in fields:
            agent, answer = "supervisor", self.supervisor_answer(prompt)
        else:
            agent, answer = "example_writer", example_answer(prompt)
        self.requests.append(agent)
        return ModelResponse(
            parts=[ToolCallPart(tool.name, answer)],
            model_name="scripted",
            usage=RequestUsage(input_tokens=len(prompt) // 4, output_tokens=len(str(answer)) // 4),
        )

    def model(self) -> FunctionModel:
        return FunctionModel(self.respond, model_name="scripted")
