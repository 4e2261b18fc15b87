"""Go's ``text/tabwriter`` with the Docker CLI's settings: ``NewWriter(out, 10, 1, 3, ' ', 0)``.

A module of its own, importing nothing: the listings (:mod:`dockyard.cli.listing`) lay out
their tables without loading the template engine.
"""

from __future__ import annotations


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-terminated cells in columns as Go's ``text/tabwriter`` does.

    A cell is text ending in a tab; the text after a line's last tab is not part of any
    column. A column's width is the widest cell of a block of adjacent lines that have that
    cell, plus ``padding``, at least ``minwidth``.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(cells):
                if j < len(cells) - 1 and j < len(widths):
                    parts.append(cell.ljust(widths[j]))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> int:
        col = len(widths)
        pos = line0
        this = line0
        while this < line1:
            if col >= len(lines[this]) - 1:
                this += 1
                continue
            write(pos, this)
            pos = this
            width = minwidth
            while this < line1 and col < len(lines[this]) - 1:
                width = max(width, len(lines[this][col]) + padding)
                this += 1
            widths.append(width)
            pos = fmt(pos, this)
            widths.pop()
        write(pos, line1)
        return line1

    fmt(0, len(lines))
    return "\n".join(out)
