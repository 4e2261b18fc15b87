"""``images --tree``: docker/cli 28's experimental tree view of images and their platform
variants (cli/command/image/tree.go of v28.2.2, internal/tui), for Dockyard's images.

Dockyard keeps one platform's image per ID, as dockerd's classic image store does, whose
image list has no ``Manifests``: each image is one row (its tags, longest first, each but
the last on a line of its own), with no variant rows below it and a content size of
``0B``. The colours are docker/cli's on a terminal (its column titles are bold even
when the output is not a terminal, as docker/cli prints them).
"""

from __future__ import annotations

import os
from typing import Any

# morikuni/aec's sequences, as docker/cli's internal/tui uses them.
_RESET = "\x1b[0m"
_TITLE = "\x1b[39m\x1b[1m"  # tui.ColorTitle: DefaultF + Bold
_TOP_NAME = "\x1b[34m\x1b[1m"  # BlueF + Bold
_NORMAL = "\x1b[39m"  # tui.ColorSecondary: DefaultF
_UNTAGGED = "\x1b[39m\x1b[2m"  # tui.ColorTertiary: DefaultF + Faint
_WARNING = "\x1b[93m"  # tui.ColorWarning: LightYellowF
_WARNING_TEXT = (
    "WARNING: This is an experimental feature. The output may change and shouldn't be depended on."
)
#: tui.InfoHeader: (plain, on a terminal).
_INFO = (
    " Info -> ",
    "\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo → \x1b[0m\x1b[0m",
)
#: The one chip docker/cli 28 has, "U" (In Use): (plain, on a terminal).
_CHIP_IN_USE = ("U", "\x1b[38;5;0m\x1b[48;5;14m U \x1b[0m")
_SPACING = 3


def _width(text: str) -> int:
    """tui.Width: the length without ANSI sequences (runewidth: one column a rune here)."""
    import re

    return len(re.sub(r"\x1b[^m]*m", "", text))


def _ellipsis(text: str, length: int) -> str:
    """tui.Ellipsis: at most ``length - 1`` runes then ``…`` when ``text`` reaches
    ``length`` runes (escape sequences kept); ``text`` itself when shorter."""
    out = []
    count = 0
    in_escape = too_long = False
    for ch in text:
        if ch == "\x1b":
            out.append(ch)
            in_escape = True
            continue
        if in_escape:
            out.append(ch)
            if ch == "m":
                in_escape = False
                if too_long:
                    break
            continue
        count += 1
        if count == length:
            too_long = True
        if not too_long:
            out.append(ch)
    return "".join(out) + ("…" if too_long else "")


class _Column:
    """An imgColumn: title, width, alignment ("l" or "r"), the value of a row."""

    def __init__(self, title: str, width: int, align: str, value: Any = None) -> None:
        self.title, self.width, self.align, self.value = title, width, align, value

    def print(self, color: str, text: str) -> str:
        length = _width(text)
        if length > self.width:
            return _paint(color, _ellipsis(text, self.width))
        fill = " " * (self.width - length)
        return fill + _paint(color, text) if self.align == "r" else _paint(color, text) + fill


def _paint(color: str, text: str) -> str:
    """aec's Apply (nothing without a colour: tui.ColorNone)."""
    return f"{color}{text}{_RESET}" if color else text


def _short_id(image_id: str) -> str:
    """stringid.TruncateID: without the algorithm, 12 characters."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def tree_text(images: list[dict[str, Any]], all_: bool, terminal: bool, width: int) -> str:
    """What docker/cli 28's ``images --tree`` prints for the ImageSummary list
    ``images`` (``all_``: ``-a``, else dangling images are left out), on a terminal
    (``terminal``, ``width`` its columns; 0: not known, 80 then) or not."""
    from dockyard.humanize import human_size

    if not width:
        width = 80
    width = max(width, 20)
    if not all_:
        images = [
            img
            for img in images
            if (img.get("RepoTags") or img.get("RepoDigests"))
            and not (
                img.get("RepoTags") == ["<none>:<none>"]
                and img.get("RepoDigests") == ["<none>@<none>"]
            )
        ]
    view = sorted(images, key=lambda img: -int(img.get("Created") or 0))
    mode = 1 if terminal else 0

    def color(code: str) -> str:
        return code if terminal else ""

    columns = [
        _Column("Image", 0, "l"),
        _Column("ID", 12, "l", lambda img: _short_id(img["Id"])),
        _Column("Disk usage", 10, "r", lambda img: human_size(float(img.get("Size") or 0))),
        _Column("Content size", 12, "r", lambda img: human_size(0.0)),
        # No variant rows, so no chip is possible: the column is as wide as its title.
        _Column("Extra", len("Extra"), "l", lambda img: ""),
    ]
    # adjustColumns: the first column gets what is left, as narrow as its values allow.
    name_width = width
    for i, col in enumerate(columns):
        if col.width == 0:
            continue
        needed = col.width + (_SPACING if i > 0 else 0)
        if name_width - needed < 12:
            columns = columns[:i]
            break
        name_width -= needed
    widest = max([len("Image")] + [len(n) for img in view for n in img.get("RepoTags") or []])
    columns[0].width = min(name_width, widest)

    out = [_paint(color(_WARNING), _WARNING_TEXT) + "\n"]
    legend = _INFO[mode] + " " + _CHIP_IN_USE[mode] + " In Use" + " "
    out.append(" " * max(0, width - _width(legend)) + legend + "\n\n")
    # The titles are printed bold whether or not this is a terminal (as docker/cli).
    out.append(
        (" " * _SPACING).join(col.print(_TITLE, col.title.upper()) for col in columns) + "\n"
    )
    for img in view:
        names = sorted(img.get("RepoTags") or [], key=len, reverse=True)
        if not names:
            out.append(columns[0].print(color(_UNTAGGED), "<untagged>"))
        for i, name in enumerate(names):
            if i < len(names) - 1:
                # Not cut to the column: only the last name shares its line.
                shown = _ellipsis(name, width if terminal else 0)
                out.append(_paint(color(_TOP_NAME), shown) + "\n")
            else:
                out.append(columns[0].print(color(_TOP_NAME), name))
        for col in columns[1:]:
            value = col.value(img)
            painted = col.print("" if col.title == "Extra" else color(_NORMAL), value)
            out.append(" " * _SPACING + painted)
        out.append("\n")
    return "".join(out)


def terminal_width() -> tuple[bool, int]:
    """Whether stdout is a terminal, and its columns (0 when not one)."""
    if not os.isatty(1):
        return False, 0
    try:
        return True, os.get_terminal_size(1).columns
    except OSError:
        return True, 0
