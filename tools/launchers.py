"""Rewrite the venv's console scripts as launchers that skip ``site``'s start-up cost.

Run by ``make install`` with the venv's python after ``pip install -e``:
``VENV/bin/python tools/launchers.py [DIR]`` (DIR: write them there instead, for tests).
pip's scripts (``#!VENV/bin/python3``, then ``import re, sys``) pay for ``site`` on every
start (the venv's ``.pth`` files, among them setuptools' ``distutils-precedence.pth``
whose import hook then sees every later import, and Debian's ``sitecustomize``) and for
``re``. Each launcher written here runs the same entry point under ``python3 -S`` and
adds to ``sys.path`` what ``site`` would have added for the engine (the venv's
site-packages, then the directory holding the ``dockyard`` package), resolved now: the
editable install's ``src`` or a regular install alike. ``-S`` only: the environment
(``PYTHONPATH``, ``PYTHONUNBUFFERED``...) is honoured as before. bench/README.md ("CLI
start-up") has the figures.
"""

from __future__ import annotations

import os
import site
import sys
from importlib.metadata import distribution

import dockyard

TEMPLATE = """\
#!{python} -S
# Written by tools/launchers.py (make install): pip's script without site's start-up cost.
import sys
sys.path += {path!r}
from {module} import {function}
sys.exit({function}())
"""


def search_path() -> list[str]:
    """The directories the launchers add to ``sys.path`` where ``site`` would: the venv's
    site-packages, then the directory holding the ``dockyard`` package (the editable
    install's ``.pth`` line; site-packages itself for a regular install), existing ones,
    no repeats. ``PYTHONPATH`` and the standard library stay ahead of them, as with
    pip's scripts."""
    found: list[str] = []
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    for directory in [*site.getsitepackages(), package_parent]:
        if os.path.isdir(directory) and directory not in found:
            found.append(directory)
    return found


def main(argv: list[str]) -> None:
    """Write each launcher over pip's script beside ``sys.executable``, or into the
    directory ``argv[0]`` when given (tests); temp file, then rename, so a command
    starting meanwhile sees the old script or the new one."""
    if sys.prefix == sys.base_prefix:
        sys.exit("tools/launchers.py: run it with the venv's python")
    venv_bin = os.path.dirname(os.path.abspath(sys.executable))
    bindir = argv[0] if argv else venv_bin
    path = search_path()
    # The installed [project.scripts] of pyproject.toml.
    for entry in distribution("dockyard").entry_points.select(group="console_scripts"):
        module, function = entry.module, entry.attr
        script = os.path.join(bindir, entry.name)
        tmp = f"{script}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(
                TEMPLATE.format(
                    python=os.path.join(venv_bin, "python3"),
                    path=path,
                    module=module,
                    function=function,
                )
            )
        os.chmod(tmp, 0o755)
        os.rename(tmp, script)


if __name__ == "__main__":
    main(sys.argv[1:])
