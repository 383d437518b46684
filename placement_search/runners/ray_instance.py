"""The Ray instance a search runs on: an embedded single-machine one on loopback, or a cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from placement_search.errors import PlacementSearchError
from placement_search.runners.ray_watchdog import start_time
from placement_search.store.engine import STORE_URL_ENV


def init_ray(address: str | None, cpus: int | None = None, dashboard: bool = False) -> None:
    """Connect to ``address``, or start an embedded single-machine Ray instance on loopback.

    Ray resolves 127.0.0.1 to the machine's interface address unless told the instance is a
    single-machine one (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), so the embedded instance sets
    that: nothing it starts listens beyond loopback. Token authentication stays as Ray sets it.

    The embedded instance gets a watchdog (``ray_watchdog.py``) that ends the instance's processes
    when the driver dies without ``ray.shutdown`` (SIGKILL, OOM): Ray leaves the raylet's agents
    running for a minute then, deaf to SIGTERM. A cluster is never touched.
    """
    import ray

    if ray.is_initialized():
        return
    # test hooks and settings reach the workers; the store URL (it may hold a password) stays on
    # the driver: Ray would write it into its session logs, and workers never open the store
    env = {k: v for k, v in os.environ.items() if k.startswith("PLACEMENT_SEARCH_") and k != STORE_URL_ENV}
    runtime_env = {"env_vars": env} if env else None
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, logging_level="WARNING")
        except ConnectionError as exc:
            raise PlacementSearchError(f"cannot connect to the Ray cluster at {address} ({exc}); check the address") from None
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # for the worker processes
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] not in ("0", "false", "False")
    private_token_file()
    context = ray.init(num_cpus=cpus, include_dashboard=dashboard, dashboard_host="127.0.0.1",
                       runtime_env=runtime_env, _node_ip_address="127.0.0.1", logging_level="WARNING")
    if dashboard and getattr(context, "dashboard_url", None):
        # never the token itself: it is a password
        print(f"Ray dashboard: http://{context.dashboard_url} (log in with the token `.venv/bin/ray "
              "get-auth-token` prints)", flush=True)
    private_token_file()  # Ray writes a token it generates with the process umask (0644)
    _start_watchdog()


def token_file() -> Path:
    """Where Ray keeps the token of a local instance: ``$RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()


def private_token_file() -> None:
    """Make the Ray auth token file readable by its owner only (0600); it is a password."""
    path = token_file()
    try:
        if path.is_file() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


def _start_watchdog() -> None:
    """Starts ``ray_watchdog.py`` for the instance this driver has just started (Linux only).

    Only when this process started the instance's GCS itself: if ``ray.init`` joined an existing
    instance (``RAY_ADDRESS`` set), its processes are not ours to end. The watchdog runs in its
    own session, so a Ctrl-C or a kill of the driver's process group leaves it to do its work, and
    its stdio is not the driver's, so a caller reading the driver's output is not kept waiting.
    A thread reaps it when it exits before the driver (after ``ray.shutdown``).
    """
    import ray
    from ray._private import ray_constants

    if not sys.platform.startswith("linux"):
        return
    node = ray._private.worker._global_node
    gcs = (node.all_processes.get(ray_constants.PROCESS_TYPE_GCS_SERVER) or [None])[0] if node else None
    if gcs is None or gcs.process is None:
        return
    driver_start, gcs_start = start_time(os.getpid()), start_time(gcs.process.pid)
    if driver_start is None or gcs_start is None:
        return
    session_dir = node.get_session_dir_path()
    log = open(os.path.join(node.get_logs_dir_path(), "placement_search_watchdog.log"), "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).with_name("ray_watchdog.py")),
             "--session-dir", session_dir, "--ray-dir", os.path.dirname(ray.__file__),
             "--driver", f"{os.getpid()}:{driver_start}", "--gcs", f"{gcs.process.pid}:{gcs_start}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    finally:
        log.close()
    threading.Thread(target=proc.wait, name="ray-watchdog-reaper", daemon=True).start()
