"""Substance gates: deterministic, model-free checks that a dataset example says something of its own.

Small local models copy sentences from their prompt into answers, echo the scenario as the reply,
paste "axis: value" labels into the user's message, or write a reply that grants what the
expected outcome refuses; every such example is schema-valid. These gates catch them. Each
problem is one sentence naming what is wrong and what to do, with a reason code.

Texts are compared normalised (tools/duplicates.normalize_text: casefolded, punctuation
stripped, whitespace collapsed), so case and punctuation never hide a copy.
"""

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from pydantic import ConfigDict

from synthgen.schemas.base import StrictModel
from synthgen.schemas.items import USE_CASE_AXIS, Message
from synthgen.schemas.outcomes import Outcome
from synthgen.tools.duplicates import normalize_text
from synthgen.tools.recall import content_words

ReasonCode = Literal[
    "copied_from_prompt", "echoed_output", "template_in_conversation", "axis_value_missing", "outcome_contradicted",
    "conversation_off_topic", "meta_reply", "conflicting_labels", "same_output_different_outcome", "recited_rule",
]  # fmt: skip

COPY_WINDOW_WORDS = 8  # a run this long shared with the instructions is copied, not coincidence
# A run this long shared with a deciding rule is recited: a reply applies the rule to the user's case
# ("I can refund the $40 within 5 to 7 business days"), it does not read the rule out.
RECITE_WINDOW_WORDS = 10
ECHO_SHARE = 0.8  # a scenario, behaviour or criterion that makes up this much of the reply is the reply
MIN_SCENARIO_WORDS = 6  # a shorter scenario may well be said in the user's own words
AXIS_WORD_SHARE = 0.5  # share of an axis value's content words the conversation must hold
TOPIC_SHARE = 0.2  # share of a deciding rule's content words the user's turns must hold, for a case without axes
# A reply that speaks of the assistant in the third person describes a reply instead of being one.
_META = re.compile(r"\bthe (?:assistant|ai|chatbot|bot|agent|model)\b", re.IGNORECASE)
PHRASE_CHARS = 60  # how much of a copied phrase a problem quotes

# Cue lists for outcome_findings, as regular expressions over casefolded text with ’ read as '.
REFUSAL_CUES = (
    r"cannot", r"can'?t", r"can not", r"unable", r"not able", r"won'?t be able", r"not eligible",
    r"isn'?t eligible", r"ineligible", r"not possible", r"unfortunately", r"declin\w*", r"not allowed",
    r"not permitted", r"no longer", r"only\b[^.!?]{0,80}\bwithin", r"i'?m afraid", r"i am afraid",
)  # fmt: skip
GRANT_CUES = (
    r"i(?:'ve| have) (?:processed|issued|approved|refunded|credited|arranged)",
    r"(?:refund|replacement|credit|exchange|request) (?:has|have) been (?:processed|issued|approved|sent|credited)",
    r"has been approved", r"i(?:'ll| will) (?:process|issue|approve|refund) your", r"approved your",
)  # fmt: skip
# Bare "has been" is left out: "your refund has been declined" is no help.
HELP_CUES = GRANT_CUES + (
    r"here(?: is|'s| are)", r"i can(?!'t| ?not)", r"i(?:'ll| will)(?! not| never)", r"(?<!make )(?<!not )sure",
    r"of course", r"certainly", r"you can(?!'t| ?not)", r"let me", r"happy to", r"glad to",
)  # fmt: skip
REQUEST_CUES = (
    r"please (?:provide|share|send|confirm|tell)", r"could you", r"can you", r"would you", r"may i have",
    r"i need your", r"i(?:'ll| will) need", r"please let me know",
)  # fmt: skip
HANDOVER_CUES = (
    r"transfer\w*", r"escalat\w*", r"human agent", r"specialists?", r"supervisors?", r"team", r"colleagues?",
    r"representatives?", r"hand (?:you |this |it )?over", r"connect you", r"managers?",
)  # fmt: skip
# A grant under a condition ("if you send the receipt, I'll process your refund") or just after a
# negation ("no refund has been approved") grants nothing.
_CONDITION = re.compile(r"\b(?:if|once|when|after|unless|as soon as)\b")
_NEGATION = re.compile(r"\b(?:not|never|no|cannot)\b|n't\b")
_SENTENCE_END = re.compile(r"[.!?;]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TEMPLATE_HEADINGS = re.compile(r"\baxis values\b|\bscenario\s*:", re.IGNORECASE)


def _cues(cues: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(cues) + r")\b")


_REFUSAL, _GRANT, _HELP = _cues(REFUSAL_CUES), _cues(GRANT_CUES), _cues(HELP_CUES)
_REQUEST, _HANDOVER = _cues(REQUEST_CUES), _cues(HANDOVER_CUES)


class SubstanceProblem(StrictModel):
    model_config = ConfigDict(frozen=True)

    reason_code: ReasonCode
    message: str


class LabelledInput(StrictModel):
    """One example as the cross-example gates see it: its input, its reply and its outcome."""

    item_id: str
    input_key: str  # input_key(messages)
    expected_output: str
    outcome: Outcome


def copied_from_prompt(texts: Sequence[str], instructions: str) -> list[SubstanceProblem]:
    """A problem for each text that shares a run of COPY_WINDOW_WORDS normalised words with `instructions`."""
    windows = _windows([instructions], COPY_WINDOW_WORDS)
    problems: list[SubstanceProblem] = []
    for text in texts:
        if phrase := _copied_run(normalize_text(text).split(), windows, COPY_WINDOW_WORDS):
            message = f'"{_clip(phrase)}" is copied from the instructions; write it in your own words for this case.'
            problems.append(SubstanceProblem(reason_code="copied_from_prompt", message=message))
    return problems


def recited_rule(
    messages: Sequence[Message], expected_output: str, rule_texts: Sequence[str]
) -> list[SubstanceProblem]:
    """The reply, or an assistant turn, reads a deciding rule out (a run of RECITE_WINDOW_WORDS of its
    words), or the reply repeats an earlier assistant turn: small models paste the rules they are shown
    in place of a reply that applies them, and every such answer "mentions" the right rule."""
    windows = _windows(rule_texts, RECITE_WINDOW_WORDS)
    assistant = [message.content for message in messages if message.role == "assistant"]
    problems: list[SubstanceProblem] = []
    for text in [expected_output, *assistant]:
        if phrase := _copied_run(normalize_text(text).split(), windows, RECITE_WINDOW_WORDS):
            message = (
                f'"{_clip(phrase)}" reads a rule out; the reply applies the rules to this user\'s request in '
                "its own words and never recites them."
            )
            problems.append(SubstanceProblem(reason_code="recited_rule", message=message))
    output = normalize_text(expected_output)
    if output and any(_contains(normalize_text(turn), output) for turn in assistant):
        message = "The expected output repeats an earlier assistant turn; write the assistant's next reply instead."
        problems.append(SubstanceProblem(reason_code="echoed_output", message=message))
    return problems


def echoed_output(
    expected_output: str, criteria: Sequence[str], scenario: str, expected_behaviour: str
) -> list[SubstanceProblem]:
    """The expected output equals or sits inside a source, or a source makes up ECHO_SHARE of it."""
    output = normalize_text(expected_output)
    if not output:
        return []
    sources = [("the scenario", scenario), ("the expected behaviour", expected_behaviour)]
    sources += [(f"evaluation criterion {n}", criterion) for n, criterion in enumerate(criteria, 1)]
    problems: list[SubstanceProblem] = []
    for name, source in sources:
        text = normalize_text(source)
        if text and (_contains(text, output) or (_contains(output, text) and len(text) >= ECHO_SHARE * len(output))):
            message = f"The expected output repeats {name}; write the reply the assistant gives the user instead."
            problems.append(SubstanceProblem(reason_code="echoed_output", message=message))
    return problems


def template_in_conversation(
    messages: Sequence[Message], axis_names: Iterable[str], scenario: str
) -> list[SubstanceProblem]:
    """User or system messages holding an "axis name: value" label, a template heading, or the scenario."""
    labels = {name: _axis_label(name) for name in axis_names}
    scenario_text = normalize_text(scenario)
    says_scenario = len(scenario_text.split()) >= MIN_SCENARIO_WORDS  # whether a message can be caught repeating it
    problems: list[SubstanceProblem] = []
    for turn, message in enumerate(messages, 1):
        if message.role == "assistant":
            continue
        where = f"The {message.role} message (turn {turn})"
        found = [f'the axis label "{name}:"' for name, label in labels.items() if label.search(message.content)]
        found += [f'the template heading "{m.group()}"' for m in _TEMPLATE_HEADINGS.finditer(message.content)]
        if says_scenario and _contains(normalize_text(message.content), scenario_text):
            found.append("the scenario word for word")
        for what in found:
            text = f"{where} contains {what}; write only what the person would say, without the template's labels."
            problems.append(SubstanceProblem(reason_code="template_in_conversation", message=text))
    return problems


def axis_value_missing(messages: Sequence[Message], axis_values: Mapping[str, str]) -> list[SubstanceProblem]:
    """Axis values the user and system messages do not show, by a word test without synonyms.

    A value is shown when every number in it ("$4.50", "30%", "1,000") appears as a number in
    the conversation, and at least AXIS_WORD_SHARE of its other content words do (tools/recall:
    casefolded, stop words dropped, a trailing ing/ed/es/s cut when three letters remain, so
    "frustrated" matches "frustrating"). The `use_case` axis is the orchestrator's, not said.

    Limits: a paraphrase fails ("45 days after delivery" said as "six weeks ago", "frustrated"
    as "fed up", "frustration" against "frustrated"), and a value whose words appear in another
    sense passes. A value without numbers or content words ("no", "none") is not checked.
    """
    conversation = " ".join(m.content for m in messages if m.role != "assistant")
    numbers, words = _numbers(conversation), content_words(conversation)
    problems: list[SubstanceProblem] = []
    for name, value in axis_values.items():
        if name == USE_CASE_AXIS:
            continue
        value_words = _word_stems(value)
        missing = sorted(_numbers(value) - numbers)
        if len(value_words & words) < AXIS_WORD_SHARE * len(value_words):
            missing += [word.strip(string.punctuation) for word in value.split() if _word_stems(word) - words]
        if missing:
            message = (
                f'The conversation does not show the {name} "{value}" (missing: {", ".join(missing)}); '
                "make the user's messages state it."
            )
            problems.append(SubstanceProblem(reason_code="axis_value_missing", message=message))
    return problems


def outcome_findings(expected_output: str, outcome: Outcome) -> list[SubstanceProblem]:
    """Whether the reply plainly contradicts its outcome, by the cue lists above.

    This is a cue check, not understanding: it catches the reply that grants what the outcome
    refuses, refuses without a word of refusal, or escalates without naming anyone to hand over to.
    A reply with the right cues in the wrong sense passes, and a refusal worded without any cue
    ("that is outside what we offer") fails; rewording it with a plain cue fixes the latter.
    """
    text = expected_output.casefold().replace("\u2019", "'")
    refusal, help_ = _REFUSAL.search(text), _HELP.search(text)
    wrong: list[str] = []
    if outcome == "refuse":
        if not refusal:
            wrong.append("never says what the assistant cannot do; state the refusal plainly")
        if grant := next((m for m in _GRANT.finditer(text) if _unconditional(text, m)), None):
            wrong.append(f'grants the request ("{grant.group()}"); decline it instead')
    elif outcome == "comply" and refusal and not help_:
        wrong.append(f'only refuses ("{refusal.group()}"); write the reply that does what the user asks')
    elif outcome == "ask_for_information" and "?" not in text and not _REQUEST.search(text):
        wrong.append("asks for nothing; ask the user for the detail the rules need")
    elif outcome == "escalate" and not _HANDOVER.search(text):
        wrong.append("hands nothing over; say who takes the request (a specialist, a human agent)")
    elif outcome == "partially_comply" and not (refusal and help_):
        half = "what it cannot do" if not refusal else "what it can do"
        wrong.append(f"never says {half}; say both what the assistant does and what it cannot do")
    messages = [f"The expected outcome is {outcome}, but the reply {what}." for what in wrong]
    return [SubstanceProblem(reason_code="outcome_contradicted", message=message) for message in messages]


def conversation_off_topic(messages: Sequence[Message], rule_texts: Sequence[str]) -> list[SubstanceProblem]:
    """For a test case without axis values: the user's turns must be about one of its deciding rules,
    holding TOPIC_SHARE of that rule's content words; otherwise the reply cannot be judged by it.

    A lexical test: a user who describes the situation wholly in other words fails it too.
    """
    said = content_words(" ".join(m.content for m in messages if m.role == "user"))
    shares = [len(said & words) / len(words) for words in map(content_words, rule_texts) if words]
    if not shares or max(shares) >= TOPIC_SHARE:
        return []
    return [
        SubstanceProblem(
            reason_code="conversation_off_topic",
            message="The user's messages are not about the situation the deciding rule covers; make the user "
            "ask for something that rule decides.",
        )
    ]


_SENTENCE = re.compile(r"[^.!?]+[.!?]*\s*")


def without_meta_sentences(reply: str) -> str:
    """The reply without its sentences about "the assistant" (small models paste the rule's own text into
    the reply: "... The assistant MUST NOT give medical advice."); the reply as it is when none is left."""
    kept = "".join(sentence for sentence in _SENTENCE.findall(reply) if not _META.search(sentence)).strip()
    return kept or reply


def meta_reply(expected_output: str) -> list[SubstanceProblem]:
    """The reply must be the assistant's own words to the user, not a description of them."""
    match = _META.search(expected_output)
    if match is None:
        return []
    return [
        SubstanceProblem(
            reason_code="meta_reply",
            message=f'The expected output speaks of "{match.group(0)}" in the third person; write the reply '
            "itself, as the assistant says it to the user.",
        )
    ]


def example_substance(
    messages: Sequence[Message],
    *,
    expected_output: str,
    criteria: Sequence[str],
    scenario: str,
    expected_behaviour: str,
    axis_values: Mapping[str, str],
    outcome: Outcome,
    instructions: str,
    rule_texts: Sequence[str] = (),
) -> list[SubstanceProblem]:
    """Every single-example substance problem: gates copied_from_prompt to meta_reply. `rule_texts` are the
    deciding rules' statements, for the topic of a case without axis values."""
    users = [message.content for message in messages if message.role == "user"]
    return [
        *copied_from_prompt([expected_output, *users, *criteria], instructions),
        *echoed_output(expected_output, criteria, scenario, expected_behaviour),
        *template_in_conversation(messages, axis_values, scenario),
        *axis_value_missing(messages, axis_values),
        *outcome_findings(expected_output, outcome),
        *([] if any(k != USE_CASE_AXIS for k in axis_values) else conversation_off_topic(messages, rule_texts)),
        *meta_reply(expected_output),
        *recited_rule(messages, expected_output, rule_texts),
    ]


def input_key(messages: Sequence[Message]) -> str:
    """The conversation as the cross-example gates compare it: each turn's role and normalised text."""
    return "\n".join(f"{message.role}: {normalize_text(message.content)}" for message in messages)


def conflicting_labels(items: Sequence[LabelledInput]) -> list[tuple[str, SubstanceProblem]]:
    """(item_id, problem) for each item whose input the first item with that input has with another outcome."""
    return _disagreements(items, lambda item: item.input_key, "conflicting_labels", "conversation")


def same_output_different_outcome(items: Sequence[LabelledInput]) -> list[tuple[str, SubstanceProblem]]:
    """(item_id, problem) for each item whose normalised reply the first item giving it has for another outcome."""
    return _disagreements(
        items, lambda item: normalize_text(item.expected_output), "same_output_different_outcome", "expected output"
    )


def _disagreements(
    items: Sequence[LabelledInput], key: Callable[[LabelledInput], str], reason_code: ReasonCode, what: str
) -> list[tuple[str, SubstanceProblem]]:
    first: dict[str, LabelledInput] = {}  # like tools/duplicates, the first of a kind is the one that stands
    found: list[tuple[str, SubstanceProblem]] = []
    for item in items:
        if not (item_key := key(item)):
            continue
        kept = first.setdefault(item_key, item)
        if kept.outcome != item.outcome:
            message = (
                f"This example has the same {what} as {kept.item_id}, which expects {kept.outcome}, "
                f"but expects {item.outcome}; change the conversation or the reply so each fits its outcome."
            )
            found.append((item.item_id, SubstanceProblem(reason_code=reason_code, message=message)))
    return found


def _windows(sources: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Every run of n normalised words of the sources."""
    windows: set[tuple[str, ...]] = set()
    for source in sources:
        words = normalize_text(source).split()
        windows.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return windows


def _copied_run(words: list[str], windows: set[tuple[str, ...]], n: int) -> str:
    """The first run of `words` made of windows a source holds, as long as it goes on."""
    for start in range(len(words) - n + 1):
        if tuple(words[start : start + n]) in windows:
            end = start + n
            while end < len(words) and tuple(words[end - n + 1 : end + 1]) in windows:
                end += 1
            return " ".join(words[start:end])
    return ""


def _axis_label(name: str) -> re.Pattern[str]:
    """An axis name followed by a colon, its words joined by _, - or spaces: "customer mood:"."""
    return re.compile(r"\b" + r"[_\s-]+".join(map(re.escape, name.split("_"))) + r"\s*:", re.IGNORECASE)


def _clip(phrase: str) -> str:
    return phrase if len(phrase) <= PHRASE_CHARS else phrase[:PHRASE_CHARS].rsplit(" ", 1)[0] + "..."


def _contains(haystack: str, needle: str) -> bool:
    """Whether normalised `needle` is in normalised `haystack` as whole words."""
    return f" {needle} " in f" {haystack} "


def _numbers(text: str) -> set[str]:
    return {number.replace(",", "") for number in _NUMBER.findall(text)}


def _word_stems(text: str) -> frozenset[str]:
    """Content words without digits: numbers are matched whole, by _numbers."""
    return frozenset(word for word in content_words(text) if not any(char.isdigit() for char in word))


def _unconditional(text: str, grant: re.Match[str]) -> bool:
    sentence = _SENTENCE_END.split(text[: grant.start()])[-1]
    return not _CONDITION.search(sentence) and not _NEGATION.search(" ".join(sentence.split()[-3:]))
