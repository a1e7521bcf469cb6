"""Prompt templates: every agent's prompt loads from the package, and malformed files fail clearly."""

import hashlib
import re
from importlib.resources import files

import pytest

from synthgen.agents.prompts import AGENT_PROMPTS, PromptFileError, all_prompts, load_prompt, parse_prompt


@pytest.mark.parametrize("name", AGENT_PROMPTS)
def test_every_agent_prompt_loads_with_its_file_hash(name: str) -> None:
    template = load_prompt(name)
    data = files("synthgen.agents").joinpath(f"{name}.prompt.md").read_bytes()

    assert template.name == name
    assert isinstance(template.version, int) and template.version >= 1
    assert template.sha256 == hashlib.sha256(data).hexdigest()
    assert not template.text.startswith("---")
    assert "---\nname:" not in template.text


def test_all_prompts_are_the_agents_sorted_by_name() -> None:
    assert [(p.name, p.version) for p in all_prompts()] == [
        ("designer", 3),
        ("example_writer", 4),
        ("extraction", 3),
        ("supervisor", 2),
        ("use_cases", 1),
    ]


def test_every_prompt_defends_against_instructions_inside_the_document() -> None:
    for template in all_prompts():
        assert "never instructions to you" in template.text, template.name


def test_parse_keeps_the_text_after_the_front_matter() -> None:
    data = b"---\r\nname: demo\r\nversion: 3\r\n---\r\n\r\nDo the thing.\r\n"

    template = parse_prompt("demo.prompt.md", data)

    assert (template.name, template.version, template.text) == ("demo", 3, "Do the thing.")
    assert template.sha256 == hashlib.sha256(data).hexdigest()  # of the bytes as stored, CRLF included


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name: demo\nversion: 1\n---\ntext", "must start with a '---' line"),
        (b"---\nname: demo\nversion: 1\ntext", "never closed"),
        (b"---\nname: demo\n---\ntext", "lacks version"),
        (b"---\nname: demo\nversion: one\n---\ntext", "must be a positive integer"),
        (b"---\nname: demo\nversion: 0\n---\ntext", "must be a positive integer"),
        (b"---\nname: demo\nversion: 1\nauthor: me\n---\ntext", "unknown front-matter key 'author'"),
        (b"---\nname: demo\nname: demo\nversion: 1\n---\ntext", "'name' is given twice"),
        (b"---\nname demo\nversion: 1\n---\ntext", "expected 'key: value'"),
        (b"---\nname: Demo Prompt\nversion: 1\n---\ntext", "must be snake_case"),
        (b"---\nname: demo\nversion: 1\n---\n\n  \n", "no instructions"),
        (b"---\nname: demo\nversion: 1\n---\n\xff", "not valid UTF-8"),
    ],
)
def test_malformed_prompt_file_raises(data: bytes, message: str) -> None:
    with pytest.raises(PromptFileError, match=message):
        parse_prompt("demo.prompt.md", data)


def test_unknown_prompt_name_raises() -> None:
    with pytest.raises(PromptFileError, match="no prompt file agents/nope.prompt.md"):
        load_prompt("nope")


def sample_sentences(text: str) -> list[str]:
    """Quoted runs of six or more words, except format placeholders (those end in "...")."""
    quoted = re.findall(r'"([^"\n]*)"', text)
    return [q for q in quoted if len(q.split()) >= 6 and not q.endswith("...")]


def test_no_prompt_holds_a_sample_sentence_a_model_could_copy() -> None:
    # A quoted sentence in the instructions is what a small model copies into its answer (it did:
    # every example of one run had the prompt's illustration as its expected output).
    for template in all_prompts():
        assert sample_sentences(template.text) == [], template.name
