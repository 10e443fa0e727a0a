"""Regenerate the parameter tables of docs/model.md from the config dataclasses."""

from pathlib import Path

from simrec.config import markdown_tables

MARK = "section in sync.\n\n"

path = Path(__file__).with_name("model.md")
text = path.read_text()
path.write_text(text[: text.index(MARK) + len(MARK)] + markdown_tables() + "\n")
