"""The embedded Ray instance leaves no process behind its driver, and touches no other instance.

Two drivers run an embedded instance each (``num_cpus=1``). One is SIGKILLed: every process of its
session (raylet's agents and workers included, which Ray alone leaves running for a minute) must be
gone within 30 s, while the other instance keeps all its processes and still runs tasks. The other
then calls ``ray.shutdown`` and stays alive: its session ends with nothing left over either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from placement_search.runners import ray_watchdog

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc")

REPO = Path(__file__).resolve().parents[2]

DRIVER = """
import os, sys, ray
from placement_search.runners.ray_instance import init_ray

init_ray(None, cpus=1)

@ray.remote
def pid():
    return os.getpid()

print("SESSION", ray._private.worker._global_node.get_session_dir_path(), ray.get(pid.remote()), flush=True)
for line in sys.stdin:
    if line.strip() == "task":
        print("TASK", ray.get(pid.remote()), flush=True)
    elif line.strip() == "shutdown":
        ray.shutdown()
        print("SHUTDOWN", flush=True)
"""


class Driver:
    """A driver subprocess, read line by line on a thread so a read can time out."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=REPO, env=env, text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True).start()

    @staticmethod
    def _pump(stream, into):
        for line in stream:
            into.append(line)

    def expect(self, prefix: str, timeout: float = 120.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(prefix):
                    self.lines.remove(line)
                    return line.split()[1:]
            if self.proc.poll() is not None and not any(x.startswith(prefix) for x in self.lines):
                break
            time.sleep(0.1)
        pytest.fail(f"no {prefix!r} from the driver (exit {self.proc.poll()}):\n{''.join(self.stderr)[-3000:]}")

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def anything_of(session_dir: str) -> dict[int, str]:
    """Every live process other than this one that names ``session_dir`` or has a file open in it.

    Deliberately wider than the watchdog's own test (no "is it a Ray program" filter), so it also
    sees the watchdog itself and anything the watchdog might fail to recognise.
    """
    session = os.fsencode(session_dir)
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        pid = int(name)
        if ray_watchdog.start_time(pid) is None:  # gone, or a zombie
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        targets = []
        for fd in fds:
            try:
                targets.append(os.readlink(f"/proc/{pid}/fd/{fd}".encode()))
            except OSError:
                pass
        if session in cmdline or any(t.startswith(session + b"/") for t in targets):
            found[pid] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    return found


def wait_until_empty(session_dir: str, timeout: float, driver: int) -> dict[int, str]:
    """What is left of the session (besides its ``driver``) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: cmd for pid, cmd in anything_of(session_dir).items() if pid != driver}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def test_killed_driver_leaves_no_process_and_other_instances_live_on():
    t0 = time.monotonic()
    victim, bystander = Driver(), Driver()
    try:
        victim_session, _ = victim.expect("SESSION")
        bystander_session, _ = bystander.expect("SESSION")
        assert victim_session != bystander_session
        victims = anything_of(victim_session)
        titles = " ".join(victims.values())
        # Ray's own fate-sharing misses these two: they are what the watchdog is for.
        assert "ray::DashboardAgent" in titles and "ray::RuntimeEnvAgent" in titles, victims
        assert "ray_watchdog.py" in titles, victims
        bystanders = {pid: ray_watchdog.start_time(pid) for pid in anything_of(bystander_session)}
        bystanders.pop(bystander.proc.pid, None)

        print(f"both instances up after {time.monotonic() - t0:.1f}s")
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        t_kill = time.monotonic()
        left = wait_until_empty(victim_session, timeout=30, driver=victim.proc.pid)
        assert not left, f"processes of the killed driver's session outlived it: {left}"
        print(f"killed driver's session gone after {time.monotonic() - t_kill:.1f}s")
        log = Path(victim_session, "logs", "placement_search_watchdog.log").read_text()
        assert "its driver died" in log

        gone = [pid for pid, started in bystanders.items() if ray_watchdog.start_time(pid) != started]
        assert not gone, f"processes of the other instance were ended: {gone}"
        bystander.send("task")
        assert bystander.expect("TASK", timeout=60)

        # ray.shutdown while the driver lives on: the session ends, the watchdog with it, quietly.
        bystander.send("shutdown")
        bystander.expect("SHUTDOWN", timeout=60)
        t_shutdown = time.monotonic()
        left = wait_until_empty(bystander_session, timeout=20, driver=bystander.proc.pid)
        assert not left, f"processes outlived ray.shutdown: {left}"
        print(f"session gone {time.monotonic() - t_shutdown:.1f}s after ray.shutdown")
        assert bystander.proc.poll() is None
        watchdog_log = Path(bystander_session, "logs", "placement_search_watchdog.log")
        assert watchdog_log.read_text() == "", "the watchdog signalled processes ray.shutdown was stopping"
        assert "Traceback" not in "".join(bystander.stderr)
    finally:
        victim.close()
        bystander.close()


def test_session_match_is_exact(tmp_path):
    """Another session whose name merely starts the same, or a log reader, is never a match."""
    ray_dir = b"/venv/site-packages/ray"
    session = b"/tmp/ray/session_2026-01-01_00-00-00_000001_42"
    assert ray_watchdog._is_ray_program([b"ray::IDLE"], ray_dir)
    assert ray_watchdog._is_ray_program([ray_dir + b"/core/src/ray/raylet/raylet", b"--x=1"], ray_dir)
    assert ray_watchdog._is_ray_program([b"/venv/bin/python", b"-u", ray_dir + b"/_private/log_monitor.py"], ray_dir)
    assert not ray_watchdog._is_ray_program([b"tail", b"-f", session + b"/logs/raylet.out"], ray_dir)
    assert not ray_watchdog._is_ray_program([b"/venv/bin/python", b"-I", b"/src/ray_watchdog.py",
                                             b"--ray-dir", ray_dir], ray_dir)
    assert ray_watchdog._names_session(b"--log_dir=" + session + b"/logs", session)
    assert ray_watchdog._names_session(b"--session-dir=" + session, session)
    assert not ray_watchdog._names_session(b"--log_dir=" + session + b"7/logs", session)
    assert not ray_watchdog._names_session(b"--log_dir=/other" + session + b"/logs", session)


def test_the_auth_token_file_is_private(tmp_path, monkeypatch):
    from placement_search.runners.ray_instance import private_token_file, token_file

    token = tmp_path / "auth_token"
    token.write_text("t" * 64)
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    assert token_file() == token
    private_token_file()
    assert token.stat().st_mode & 0o777 == 0o600


def test_dashboard_on_loopback_prints_how_to_log_in_never_the_token(tmp_path):
    import re
    import urllib.error
    import urllib.request

    code = ("import sys, time; from placement_search.runners.ray_instance import init_ray\n"
            "init_ray(None, cpus=1, dashboard=True); print('READY', flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("READY"):
                break
        out = "".join(lines)
        found = re.search(r"Ray dashboard: http://(127\.0\.0\.1:\d+) \(log in with the token .*get-auth-token", out)
        assert found, out[-2000:]
        token = token_path_text()
        assert token is None or token not in out
        try:
            status = urllib.request.urlopen(f"http://{found[1]}/", timeout=10).status
        except urllib.error.HTTPError as err:  # token auth answers 401 without the token
            status = err.code
        assert status in (200, 401, 403)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def token_path_text() -> str | None:
    from placement_search.runners.ray_instance import token_file

    path = token_file()
    return path.read_text().strip() if path.is_file() else None
