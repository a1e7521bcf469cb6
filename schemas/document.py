"""The parsed source document: exact lines and the heading tree."""

from pathlib import PurePath
from typing import Literal

from pydantic import Field

from synthgen.schemas.base import StrictModel

DOCUMENT_ID = r"^doc_[0-9a-f]{12}$"  # doc_ + the first 12 hex digits of the file's sha256


class Section(StrictModel):
    heading_path: list[str] = Field(description="Headings from the top level down to this section.")
    level: int = Field(ge=1, le=6)
    line_start: int = Field(ge=1, description="Line of the heading (1-based).")
    line_end: int = Field(
        ge=1, description="Last line of the section, before the next heading of the same or higher level."
    )


class SourceDocument(StrictModel):
    id: str = Field(pattern=DOCUMENT_ID, description="doc_ + first 12 hex chars of sha256.")
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    encoding: Literal["utf-8", "utf-8-sig"]
    line_ending: Literal["lf", "crlf", "mixed", "none"]
    lines: list[str] = Field(description="Text of each line without its line ending; lines[0] is line 1.")
    sections: list[Section]

    @property
    def file_name(self) -> str:
        """The name prompts show: unlike the path, it reads the same from any working directory."""
        return PurePath(self.path).name

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def line(self, number: int) -> str:
        """Line `number`, counting from 1."""
        return self.lines[number - 1]
