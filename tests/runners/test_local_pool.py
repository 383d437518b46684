"""The local runner's workers end with their driver: a driver killed by a signal cannot shut its
pool down, and an orphaned worker would keep training for a result nobody records."""

from __future__ import annotations

import os
import subprocess
import sys
import time

DRIVER = """
import os, time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from placement_search.runners.local_pool import _init_worker

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(1, os.getpid()))
    pool.submit(time.sleep, 120)
    while not pool._processes:
        time.sleep(0.1)
    time.sleep(3)  # the worker is up and sleeping in its task
    print(*pool._processes, flush=True)
    os._exit(0)  # as a driver killed by a signal: no pool shutdown
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init to reap it has ended too
        return f.read().split(")")[-1].split()[0] != "Z"


def test_workers_end_when_the_driver_is_killed():
    # read the worker pids as a line, not to EOF: an orphaned worker would hold the pipe open
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in driver.stdout.readline().split()]
    assert driver.wait(timeout=120) == 0
    driver.stdout.close()
    assert pids and all(p != os.getpid() for p in pids)
    deadline = time.time() + 20
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "a worker outlived its driver"
