"""Cluster support on a real two-node Ray cluster on loopback, token authentication on.

A module-scoped fixture starts a head (1 CPU) and a second node (1 CPU, resource ``node2``) with
``ray start --block``, each in its own process group, its own ``--temp-dir`` under a fresh folder
and its own ports, so it never meets another Ray instance on the machine. Teardown ends only what
it started: the two process groups, then any process whose command line names its temp folder.
``placement-search submit`` then runs searches there through the dashboard's job API.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from placement_search.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = "search_spaces/tiny.yaml"
RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 90
#: ``ray start`` for a second node on this machine. Ray refuses to add a node when
#: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (the setting that keeps the head on loopback), and with it on
#: it rewrites 127.0.0.1 (the head's address and --node-ip-address) to the interface address; so
#: the second node runs `ray start` with that rewrite switched off and stays on loopback too.
LOOPBACK_RAY_START = (
    "import sys; from ray._private import services; services.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
)


#: every port handed out in this run, so a later node never gets one an earlier node was given
_HANDED_OUT: set[int] = set()


def _free_ports(n: int) -> list[int]:
    """n distinct ports nothing listens on now and none handed out before.

    All n sockets stay bound until every port is picked: the kernel may hand a port it just
    released straight back, and two Ray components given one port make ``ray start`` exit.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                ports.append(port)
                _HANDED_OUT.add(port)
    finally:
        for s in held:
            s.close()
    return ports


def _free_port() -> int:
    return _free_ports(1)[0]


def _free_range(n: int = 40) -> tuple[int, int]:
    """A run of n ports nothing listens on now and none handed out before (worker ports of one node)."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        ok = _HANDED_OUT.isdisjoint(range(base, base + n))
        for port in range(base, base + n) if ok else ():
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            _HANDED_OUT.update(range(base, base + n))
            return base, base + n - 1
    raise RuntimeError("no free port range")


def _node_ports() -> list[str]:
    lo, hi = _free_range()
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
    flags = [part for name, port in zip(names, _free_ports(len(names))) for part in (name, str(port))]
    return [*flags, "--min-worker-port", str(lo), "--max-worker-port", str(hi)]


def _pids_naming(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@dataclass
class Node:
    proc: subprocess.Popen
    temp_dir: str
    log: Path

    def kill(self) -> None:
        """End this node: its process group, then any process naming its temp dir."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        deadline = time.monotonic() + 10
        while (pids := _pids_naming(self.temp_dir)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)


@dataclass
class Cluster:
    address: str  # dashboard, http://127.0.0.1:PORT
    gcs: str
    token: str
    env: dict
    root: Path
    head: Node | None = None
    worker: Node | None = None
    node_ids: dict = field(default_factory=dict)  # "head"/"worker" -> node id

    def headers(self, token: str | None = "own") -> dict:
        token = self.token if token == "own" else token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, token: str | None = "own", **kw) -> requests.Response:
        return requests.get(self.address + path, headers=self.headers(token), timeout=10, **kw)

    def alive_nodes(self) -> list[dict]:
        r = self.get("/api/v0/nodes?limit=100")
        r.raise_for_status()
        return [n for n in r.json()["data"]["result"]["result"] if n["state"] == "ALIVE"]

    def start_node(self, name: str, args: list[str], head: bool = True) -> Node:
        temp_dir = str(self.root / name)
        log = self.root / f"{name}.log"
        env = self.env if head else {**self.env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
        launcher = [RAY] if head else [sys.executable, "-c", LOOPBACK_RAY_START]
        with open(log, "w") as out:
            proc = subprocess.Popen([*launcher, "start", "--block", "--temp-dir", temp_dir, *args], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return Node(proc, temp_dir, log)

    def start_worker(self) -> None:
        self.worker = self.start_node("w", [
            "--address", self.gcs, "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
            "--resources", json.dumps({"node2": 1}), "--object-store-memory", str(150 * 2**20), *_node_ports()],
            head=False)

    def wait_for(self, n_nodes: int, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in (self.head, self.worker):
                if node is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"ray start exited: {node.log.read_text()[-2000:]}")
            try:
                nodes = self.alive_nodes()
                if len(nodes) >= n_nodes:
                    for n in nodes:
                        self.node_ids["head" if n.get("is_head_node") else "worker"] = n["node_id"]
                    return
            except (requests.RequestException, KeyError, ValueError):
                pass
            time.sleep(1)
        raise RuntimeError(f"cluster did not reach {n_nodes} nodes in {timeout} s")

    def teardown(self) -> None:
        for node in (self.worker, self.head):
            if node is not None:
                node.kill()


def _client_env(token: str | None, home: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    if token is not None:
        env["RAY_AUTH_TOKEN"] = token
    if home is not None:  # keep ~/.ray/auth_token out of sight
        env["HOME"] = str(home)
    return env


def cli(*args: str, env: dict, timeout: float = 110) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "placement_search.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster():
    # short root: Unix socket paths under the temp dirs must stay below 108 characters
    root = Path(tempfile.mkdtemp(prefix="psc-", dir="/tmp"))
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               RAY_USAGE_STATS_ENABLED="0", PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    gcs_port, dash_port = _free_port(), _free_port()
    c = Cluster(f"http://127.0.0.1:{dash_port}", f"127.0.0.1:{gcs_port}", token, env, root)
    try:
        c.head = c.start_node("h", [
            "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs_port), "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(dash_port), "--ray-client-server-port", str(_free_port()), "--include-dashboard",
            "true", "--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(150 * 2**20),
            "--disable-usage-stats", *_node_ports()])
        c.wait_for(1)
        c.start_worker()
        c.wait_for(2)
        yield c
    finally:
        c.teardown()
        leftover = _pids_naming(str(root))
        shutil.rmtree(root, ignore_errors=True)
        assert not leftover, f"processes of the test cluster survived teardown: {leftover}"


def _actor_nodes(c: Cluster) -> set[str]:
    """Nodes that ran Tune trial actors (the function trainable runs in ``ImplicitFunc`` actors)."""
    r = c.get("/api/v0/actors?limit=1000&detail=1&filter_keys=class_name&filter_predicates=%3D"
              "&filter_values=ImplicitFunc")
    r.raise_for_status()
    return {a["node_id"] for a in r.json()["data"]["result"]["result"]}


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


def test_job_api_answers_with_the_token_and_refuses_without(cluster):
    assert cluster.get("/api/jobs/").status_code == 200
    assert cluster.get("/api/jobs/", token=None).status_code == 401
    assert cluster.get("/api/jobs/", token="not-the-token").status_code == 403
    assert len(cluster.alive_nodes()) == 2


def test_submit_runs_the_search_on_both_nodes(cluster, tmp_path):
    store = tmp_path / "store.sqlite"  # one machine: both nodes see the same file
    env = _client_env(cluster.token)
    proc = cli("submit", TINY, "--address", cluster.address, "--searcher", "random", "--num-samples", "4",
               "--name", "cl-random", "--store", str(store), "--set", "search.cpus_per_trial=1",
               "--set", f"search.storage_path={tmp_path / 'tune'}", "--follow", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "submitted search cl-random as Ray job cl-random" in proc.stdout
    assert "job cl-random: SUCCEEDED" in proc.stdout
    assert cluster.token not in proc.stdout + proc.stderr

    trials = open_store(str(store)).trials_frame("cl-random")
    assert len(trials) == 4 and set(trials["status"]) == {"completed"}
    assert open_store(str(store)).get_search("cl-random").status == "completed"
    assert _actor_nodes(cluster) >= {cluster.node_ids["head"], cluster.node_ids["worker"]}

    listing = cli("jobs", "--address", cluster.address, env=env, timeout=30)
    assert listing.returncode == 0 and "cl-random" in listing.stdout and "SUCCEEDED" in listing.stdout
    logs = cli("logs", "cl-random", "--address", cluster.address, env=env, timeout=30)
    assert logs.returncode == 0 and "cl-random" in logs.stdout
    stop = cli("stop", "cl-random", "--address", cluster.address, env=env, timeout=30)
    assert stop.returncode == 0 and "was not running" in stop.stdout
    again = cli("submit", TINY, "--address", cluster.address, "--name", "cl-random", "--store", str(store), env=env,
                timeout=30)
    assert "already exists" in _one_error_line(again)
    missing = cli("logs", "no-such-job", "--address", cluster.address, env=env, timeout=30)
    assert "no job no-such-job" in _one_error_line(missing)


def test_submit_where_nothing_listens_is_one_line_and_fast(tmp_path):
    start = time.monotonic()
    proc = cli("submit", TINY, "--address", f"http://127.0.0.1:{_free_port()}", "--store", str(tmp_path / "s.sqlite"),
               env=_client_env("whatever"), timeout=60)
    assert "nothing answers at http://127.0.0.1:" in _one_error_line(proc)
    assert time.monotonic() - start < 30


def test_submit_with_a_wrong_or_missing_token_is_one_line(cluster, tmp_path):
    args = ("submit", TINY, "--address", cluster.address, "--store", str(tmp_path / "s.sqlite"))
    wrong = _one_error_line(cli(*args, env=_client_env("not-the-token"), timeout=60))
    assert "refused the request: invalid auth token" in wrong and cluster.token not in wrong
    missing = _one_error_line(cli(*args, env=_client_env(None, home=tmp_path), timeout=60))
    assert "refused the request: missing auth token" in missing


def test_search_survives_losing_the_worker_node(cluster, tmp_path):
    """Kill the second node mid-search: trials on it are retried elsewhere, each recorded once."""
    store = tmp_path / "store.sqlite"
    env = _client_env(cluster.token)
    proc = cli("submit", TINY, "--address", cluster.address, "--searcher", "random", "--num-samples", "4",
               "--name", "cl-failover", "--store", str(store), "--set", "search.cpus_per_trial=1",
               "--set", "search.max_failures=2", "--set", "training.epochs=80",
               "--set", f"search.storage_path={tmp_path / 'tune'}", env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr[-2000:]
    try:
        # kill once the worker runs a trial (each node holds one 1-CPU trial at a time)
        deadline = time.monotonic() + 90  # job start + working_dir download + torch import, on a busy machine
        while cluster.node_ids["worker"] not in _live_trial_nodes(cluster):
            assert time.monotonic() < deadline, (
                f"no trial started on the worker node: {_trial_actors(cluster)}; "
                f"{cli('jobs', '--address', cluster.address, env=env, timeout=30).stdout}")
            time.sleep(0.5)
        cluster.worker.kill()
        follow = cli("logs", "cl-failover", "--address", cluster.address, "--follow", env=env, timeout=110)
        assert "job cl-failover: SUCCEEDED" in follow.stdout, follow.stdout[-3000:] + follow.stderr[-2000:]
        trials = open_store(str(store)).trials_frame("cl-failover")
        assert len(trials) == 4 and trials["trial_id"].is_unique
        assert set(trials["status"]) == {"completed"}
    finally:  # give the next test its second node back
        if cluster.worker.proc.poll() is not None:
            cluster.start_worker()
            cluster.wait_for(2)


def _trial_actors(c: Cluster) -> list[tuple[str, str, str]]:
    r = c.get("/api/v0/actors?limit=1000&filter_keys=class_name&filter_predicates=%3D&filter_values=ImplicitFunc")
    r.raise_for_status()
    return [(a["node_id"], a["state"], a.get("job_id", "")) for a in r.json()["data"]["result"]["result"]]


def _live_trial_nodes(c: Cluster) -> set[str]:
    return {node for node, state, _ in _trial_actors(c) if state == "ALIVE"}
