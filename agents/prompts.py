"""Versioned prompt templates, stored beside the agents as `<name>.prompt.md`.

Each file starts with a front-matter block naming the prompt and its version:

    ---
    name: extraction
    version: 1
    ---
    <instructions>

The run manifest records name, version and the sha256 of the file bytes, so a changed
prompt is visible even when someone forgets to bump the version.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from synthgen.errors import SynthgenError

AGENT_PROMPTS: tuple[str, ...] = ("designer", "example_writer", "extraction", "supervisor", "use_cases")

_FRONT_MATTER_FIELD = re.compile(r"^(?P<key>[a-z_]+): (?P<value>\S.*?)\s*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^[1-9][0-9]*$")


class PromptFileError(SynthgenError):
    """A prompt file is missing or malformed: the installed package is broken."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    text: str  # the instructions, without the front matter
    sha256: str  # of the file bytes as stored, front matter included


def parse_prompt(source: str, data: bytes) -> PromptTemplate:
    """Parse the bytes of a prompt file; `source` names the file in error messages."""
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PromptFileError(f"{source} is not valid UTF-8: re-save it as UTF-8") from None
    lines = content.replace("\r\n", "\n").split("\n")
    if lines[0] != "---":
        raise PromptFileError(f"{source} must start with a '---' line opening the front matter")
    try:
        close = lines.index("---", 1)
    except ValueError:
        raise PromptFileError(f"{source}: the front matter is never closed by a '---' line") from None

    fields: dict[str, str] = {}
    for number, line in enumerate(lines[1:close], 2):
        match = _FRONT_MATTER_FIELD.match(line)
        if match is None:
            raise PromptFileError(f"{source} line {number}: expected 'key: value' in the front matter, got {line!r}")
        key = match["key"]
        if key not in ("name", "version"):
            raise PromptFileError(f"{source} line {number}: unknown front-matter key {key!r} (allowed: name, version)")
        if key in fields:
            raise PromptFileError(f"{source} line {number}: {key!r} is given twice")
        fields[key] = match["value"]
    missing = [key for key in ("name", "version") if key not in fields]
    if missing:
        raise PromptFileError(f"{source}: the front matter lacks {', '.join(missing)}")
    if not _NAME.match(fields["name"]):
        raise PromptFileError(f"{source}: name {fields['name']!r} must be snake_case")
    if not _VERSION.match(fields["version"]):
        raise PromptFileError(f"{source}: version {fields['version']!r} must be a positive integer")

    text = "\n".join(lines[close + 1 :]).strip()
    if not text:
        raise PromptFileError(f"{source}: there are no instructions after the front matter")
    return PromptTemplate(
        name=fields["name"],
        version=int(fields["version"]),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )


@cache
def load_prompt(name: str) -> PromptTemplate:
    """The prompt stored in `agents/<name>.prompt.md` of the installed package."""
    filename = f"{name}.prompt.md"
    resource = files("synthgen.agents").joinpath(filename)
    try:
        data = resource.read_bytes()
    except FileNotFoundError:
        known = ", ".join(AGENT_PROMPTS)
        raise PromptFileError(f"no prompt file agents/{filename}: known prompts are {known}") from None
    template = parse_prompt(f"agents/{filename}", data)
    if template.name != name:
        # A copied file with a stale name would put the wrong name into the manifest.
        raise PromptFileError(f"agents/{filename} declares name {template.name!r}; it must be {name!r}")
    return template


def all_prompts() -> list[PromptTemplate]:
    """The agents' prompts, sorted by name, for the run manifest."""
    return [load_prompt(name) for name in sorted(AGENT_PROMPTS)]
