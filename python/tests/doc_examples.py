"""The worked examples of docs/protocol.md §7, parsed out of the document itself (so the document
and the tests cannot drift apart)."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
PROTOCOL_DOC = REPOSITORY / "docs" / "protocol.md"

_HEX = re.compile(r"^[0-9a-f]{2}$")
_FRAME = re.compile(r"^frame (\d+) \(\s*(\d+) bytes?\s*\)(.*)$")


def _hex_prefix(text: str) -> list[int]:
    values = []
    for token in text.split():
        if not _HEX.match(token):
            break
        values.append(int(token, 16))
    return values


def _parse_section(body: str) -> list[bytes]:
    """Frames of one example: frame 0 from the first code block of bare hex lines, frames 1… from
    ``frame N (K bytes)`` lines (with their continuation lines)."""
    blocks = re.findall(r"```\n(.*?)```", body, flags=re.S)
    header: list[int] = []
    frames: dict[int, bytes] = {}
    for block in blocks:
        lines = block.splitlines()
        if lines and _FRAME.match(lines[0].strip()):
            i = 0
            while i < len(lines):
                m = _FRAME.match(lines[i].strip())
                assert m, f"unexpected line in a frames block: {lines[i]!r}"
                index, count = int(m.group(1)), int(m.group(2))
                values = _hex_prefix(m.group(3))[:count]
                i += 1
                while len(values) < count:
                    assert i < len(lines), f"frame {index} is cut short"
                    values += _hex_prefix(lines[i])[: count - len(values)]
                    i += 1
                frames[index] = bytes(values)
                while i < len(lines) and not lines[i].strip().startswith("frame"):
                    i += 1
        elif not header:
            for line in lines:
                header += _hex_prefix(line)
    assert header, "no header block"
    return [bytes(header)] + [frames[i] for i in sorted(frames)]


def worked_examples() -> dict[str, list[bytes]]:
    """Section number ("7.1" …) → frames."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    part = text.split("## 7. Worked examples", 1)[1].split("\n## 8.", 1)[0]
    sections = re.split(r"\n### (7\.\d+) [^\n]*\n", part)
    examples: dict[str, list[bytes]] = {}
    for number, body in zip(sections[1::2], sections[2::2]):
        examples[number] = _parse_section(body)
    # 7.4 says its frames 1 to 6 are those of 7.2.
    if len(examples["7.4"]) == 1:
        examples["7.4"] = examples["7.4"] + examples["7.2"][1:]
    return examples
