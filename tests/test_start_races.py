"""Starts racing removals: ``run --rm`` loops beside a ``system prune -f`` loop.

``container prune`` (and so ``system prune``) removed a container whose start was under
way (created, its start lock held, Running not yet recorded): the record, the container
directory and its rootfs mount went mid-start, and the start failed with whatever it
touched next ("prepare rootfs ...: No such file or directory", "cannot read
.../config.json", 'exec: "true": executable file not found'). Docker's rm waits for the
container's lock and then finds it running; Dockyard's waits for the start lock.
"""

from __future__ import annotations

import threading
import time

import pytest

from conftest import Runner


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_runs_survive_concurrent_system_prune(dy: Runner, busybox: str) -> None:
    seconds = 20.0  # the old code failed a start within about 5 s on 2 cores
    deadline = time.monotonic() + seconds
    failures: list[str] = []
    runs = [0]

    def runs_loop(args: list[str]) -> None:
        while time.monotonic() < deadline and not failures:
            p = dy("run", "--rm", "--network", "none", busybox, *args)
            runs[0] += 1
            if p.returncode != 0:
                failures.append(f"run {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")

    loops = [
        threading.Thread(target=runs_loop, args=(args,))
        for args in (["true"], ["true"], ["sleep", "0.2"], ["sleep", "0.2"])
    ]
    for t in loops:
        t.start()
    prunes = 0
    try:
        while time.monotonic() < deadline and not failures:
            p = dy("system", "prune", "-f")
            assert p.returncode == 0, p.stderr
            prunes += 1
    finally:
        for t in loops:
            t.join()
    assert not failures, failures[:3]
    assert runs[0] >= 8 and prunes >= 2  # the loops did overlap
    assert dy("ps", "-aq", check=True).stdout == ""  # every --rm container went
