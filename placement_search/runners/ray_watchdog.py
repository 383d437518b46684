"""Watchdog that ends an embedded Ray instance's processes once its driver is gone.

Why it exists: Ray fate-shares the processes the driver starts itself (GCS, raylet, dashboard
head, monitors) with ``PR_SET_PDEATHSIG``, but the raylet's own children are on their own. When
the driver is SIGKILLed, the raylet dies with it, and its dashboard agent and runtime-env agent
notice through a closed pipe; before exiting, though, each reports the "unexpected" raylet death
to the GCS with a synchronous call that waits up to 60 s for the GCS, which is already dead. The
call blocks their event loop, where their SIGTERM handlers run, so for that minute they keep their
loopback ports and ignore SIGTERM. Other Ray processes left behind (workers, their children) are
caught the same way.

How it works: ``init_ray`` starts this script (stdlib only, run by path in its own session,
output to ``logs/placement_search_watchdog.log`` in the session folder) for an embedded instance
only, right after ``ray.init``; a driver killed during ``ray.init`` itself is not covered. It
waits, without polling where ``pidfd_open`` exists, until the driver or the instance's GCS has
exited:

* the driver died: every process of the session is sent SIGTERM, then SIGKILL after a short grace;
* only the GCS is gone (``ray.shutdown``, the driver lives on): Ray is stopping the instance
  itself, so the watchdog first gives the processes time to exit and only ends stragglers.

A process belongs to the session when it is a Ray program (its title starts with ``ray::``, or it
runs a binary or script from Ray's package folder) *and* its command line names the session
folder or one of its open files lies in it. Several Ray instances run on one machine at once
(tests do), and each has its own session folder, so another instance's processes never match; a
``tail -f`` on a log file does not either. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import time

TERM_GRACE_S = 2.0  # SIGTERM, then SIGKILL for what is left after this long
NATURAL_EXIT_S = 10.0  # after ray.shutdown: how long Ray gets to stop its processes itself
ROUNDS = 5  # rescans, for a process started while the first ones were being ended


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def _argv(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return raw.rstrip(b"\0").split(b"\0") if raw else []


def _inside(path: bytes, folder: bytes) -> bool:
    return path == folder or path.startswith(folder + b"/")


def _names_session(arg: bytes, session: bytes) -> bool:
    """Whether a command-line argument names the session folder (``--log_dir=<session>/logs``)."""
    at = arg.find(session)
    while at >= 0:
        before, after = arg[at - 1 : at] if at else b"", arg[at + len(session) : at + len(session) + 1]
        if before in (b"", b"=", b":", b",") and after in (b"", b"/", b","):
            return True
        at = arg.find(session, at + 1)
    return False


def _is_ray_program(argv: list[bytes], ray_dir: bytes) -> bool:
    if not argv:
        return False
    if argv[0].startswith(b"ray::"):
        return True
    if _inside(argv[0], ray_dir):
        return True
    if os.path.basename(argv[0]).startswith(b"python"):
        script = next((a for a in argv[1:] if not a.startswith(b"-")), b"")
        return _inside(script, ray_dir)
    return False


def _has_file_in(pid: int, sessions: set[bytes]) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}".encode())
        except OSError:
            continue
        if any(_inside(target, s) for s in sessions):
            return True
    return False


def session_processes(session_dir: str, ray_dir: str, exclude: set[int] = frozenset()) -> dict[int, int]:
    """The live processes of the Ray session in ``session_dir``: pid -> start time."""
    sessions = {os.fsencode(os.path.abspath(session_dir)), os.fsencode(os.path.realpath(session_dir))}
    ray_folders = {os.fsencode(os.path.abspath(ray_dir)), os.fsencode(os.path.realpath(ray_dir))}
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        pid = int(name)
        argv = _argv(pid)
        if not any(_is_ray_program(argv, folder) for folder in ray_folders):
            continue
        if any(_names_session(a, s) for a in argv for s in sessions) or _has_file_in(pid, sessions):
            started = start_time(pid)
            if started is not None:
                found[pid] = started
    return found


def _signal_all(procs: dict[int, int], sig: int) -> None:
    for pid, started in procs.items():
        if start_time(pid) == started:  # the same process, not a reused pid
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def _alive(procs: dict[int, int]) -> dict[int, int]:
    return {pid: s for pid, s in procs.items() if start_time(pid) == s}


def _wait_gone(procs: dict[int, int], seconds: float) -> dict[int, int]:
    deadline = time.monotonic() + seconds
    while procs and time.monotonic() < deadline:
        time.sleep(0.1)
        procs = _alive(procs)
    return _alive(procs)


def end_session(session_dir: str, ray_dir: str, exclude: set[int]) -> list[int]:
    """Ends the session's processes: SIGTERM, then SIGKILL. Returns the pids it signalled."""
    signalled: list[int] = []
    for _ in range(ROUNDS):
        procs = session_processes(session_dir, ray_dir, exclude)
        if not procs:
            break
        signalled.extend(procs)
        _signal_all(procs, signal.SIGTERM)
        left = _wait_gone(procs, TERM_GRACE_S)
        _signal_all(left, signal.SIGKILL)
        _wait_gone(left, TERM_GRACE_S)
    return sorted(set(signalled))


def _open_pidfd(pid: int, started: int) -> int | None:
    """A pidfd for ``pid`` if it is still the process that started at ``started``; -1 if gone."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return -1
    except OSError:
        return None
    if start_time(pid) != started:  # exited (or the pid was reused) before the pidfd was taken
        os.close(fd)
        return -1
    return fd


def wait_for_exit(watched: list[tuple[int, int]]) -> int:
    """Blocks until one of the ``(pid, start time)`` processes has exited; returns its pid."""
    fds = {}
    for pid, started in watched:
        fd = _open_pidfd(pid, started)
        if fd == -1:
            return pid
        if fd is not None:
            fds[fd] = pid
    while True:
        for pid, started in watched:
            if start_time(pid) != started:
                return pid
        if len(fds) == len(watched):
            ready, _, _ = select.select(list(fds), [], [])
            return fds[ready[0]]
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ends an embedded Ray instance's processes once its driver is gone.")
    parser.add_argument("--session-dir", required=True)
    parser.add_argument("--ray-dir", required=True, help="Ray's package folder")
    parser.add_argument("--driver", required=True, help="PID:START_TIME of the driver")
    parser.add_argument("--gcs", required=True, help="PID:START_TIME of the instance's GCS server")
    args = parser.parse_args(argv)
    driver_pid, driver_start = map(int, args.driver.split(":"))
    gcs_pid, gcs_start = map(int, args.gcs.split(":"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    wait_for_exit([(driver_pid, driver_start), (gcs_pid, gcs_start)])
    exclude = {os.getpid(), driver_pid}
    if start_time(driver_pid) == driver_start:
        # Only the GCS is gone: ray.shutdown is stopping the instance; give it time to finish.
        deadline = time.monotonic() + NATURAL_EXIT_S
        while time.monotonic() < deadline and start_time(driver_pid) == driver_start:
            if not session_processes(args.session_dir, args.ray_dir, exclude):
                break
            time.sleep(0.2)
    driver_dead = start_time(driver_pid) != driver_start
    ended = end_session(args.session_dir, args.ray_dir, exclude)
    if ended:
        why = "its driver died" if driver_dead else "they outlived ray.shutdown"
        print(f"ended {len(ended)} processes of {args.session_dir} ({why}): {ended}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
