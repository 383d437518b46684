"""Submit placement searches to a Ray cluster as Ray jobs, and follow them.

The job API lives in the head's dashboard (``http://HEAD:8265``). A job ships the project
(``runtime_env.working_dir`` = the repository root, without the virtual environment, run outputs,
assets and git history; or the installed package as a ``py_module``) and the config, and runs
``python -m placement_search.cli run CONFIG ... --address auto`` on the head; the search's trials
then spread over the cluster as Ray Tune trials. The job's submission id is the search name.

Token authentication (Ray >= 2.5x ``RAY_AUTH_MODE=token``): the token is read from ``RAY_AUTH_TOKEN``,
else the file named by ``RAY_AUTH_TOKEN_PATH``, else Ray's default ``~/.ray/auth_token`` (where
``ray get-auth-token --generate`` writes it), and sent as ``Authorization: Bearer <token>``. It is
never printed. Every failure the user can fix (nothing listening, token missing or refused, no such
job, a job of that name already there) is a one-line :class:`PlacementSearchError`.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from placement_search.errors import PlacementSearchError

#: seconds to wait for the dashboard to answer before calling the address dead
CONNECT_TIMEOUT_S = 5.0
#: paths of the repository root that never travel with a job (gitignore syntax, root-anchored)
EXCLUDES = [
    "/.venv/", "/runs/", "/.assets/", "/analysis/report/", "/analysis/results/", "/.git/", "/.ci/",
    "/.pytest_cache/", "/build/", "/dist/", "__pycache__/", "*.pyc", "*.egg-info/", "*.sqlite",
    "*.sqlite-wal", "*.sqlite-shm", "*.db",
]
#: environment variable carrying a config that lives outside the shipped repository
CONFIG_ENV = "PS_SUBMITTED_CONFIG_YAML"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def _one_line(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def auth_token() -> tuple[str | None, str]:
    """The cluster token and where it came from (the token itself is never shown)."""
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token, "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise PlacementSearchError(f"RAY_AUTH_TOKEN_PATH names {p}, which is not a file; point it at the "
                                       "cluster's token file or set RAY_AUTH_TOKEN")
        return p.read_text().strip() or None, str(p)
    default = Path.home() / ".ray" / "auth_token"
    if default.is_file():
        return default.read_text().strip() or None, str(default)
    return None, "nowhere"


def normalize_address(address: str | None) -> str:
    address = address or os.environ.get("RAY_API_SERVER_ADDRESS") or ""
    if not address:
        raise PlacementSearchError("no cluster address; pass --address http://HEAD:8265 (the head's dashboard, "
                                   "e.g. through `kubectl port-forward` or `ray dashboard cluster.yaml`)")
    if address.startswith("ray://") or address == "auto":
        raise PlacementSearchError(f"--address {address} is not a dashboard address; jobs go through the head's "
                                   "dashboard, e.g. --address http://127.0.0.1:8265")
    if "://" not in address:
        address = "http://" + address
    return address.rstrip("/")


class JobClient:
    """A checked connection to the job API of the dashboard at ``address``."""

    def __init__(self, address: str | None, timeout: float = CONNECT_TIMEOUT_S):
        import requests

        self.address = normalize_address(address)
        token, self.token_source = auth_token()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = requests.get(self.address + "/api/version", headers=self.headers, timeout=timeout)
        except requests.exceptions.Timeout:
            raise PlacementSearchError(f"the dashboard at {self.address} did not answer within {timeout:g} s; check "
                                       "the address and that the head is up (port-forward it if it is remote)") from None
        except requests.exceptions.RequestException:
            raise PlacementSearchError(f"nothing answers at {self.address}; start the cluster or forward the head's "
                                       "dashboard port (kubectl port-forward / ray dashboard cluster.yaml) and pass "
                                       "that address") from None
        self._check_auth(r.status_code)
        if r.status_code != 200:
            raise PlacementSearchError(f"{self.address} answered {r.status_code} to /api/version; is it a Ray "
                                       "dashboard (default port 8265)?")
        import logging

        from ray.job_submission import JobSubmissionClient

        # packaging chatter (what the upload skips, which folders Ray ignores) is not the user's business
        for logger in ("ray", "ray.dashboard", "ray._private"):
            logging.getLogger(logger).setLevel(logging.ERROR)
        try:
            self.client = JobSubmissionClient(self.address, headers=dict(self.headers))
        except Exception as exc:  # noqa: BLE001 - any failure here is the address's
            raise PlacementSearchError(f"cannot use the job API at {self.address}: {_one_line(exc)}") from None

    def _check_auth(self, status: int) -> None:
        if status == 401:
            raise PlacementSearchError(
                f"the dashboard at {self.address} refused the request: missing auth token (looked in RAY_AUTH_TOKEN, "
                f"RAY_AUTH_TOKEN_PATH and ~/.ray/auth_token); set RAY_AUTH_TOKEN to the cluster's token "
                f"(`ray get-auth-token` on the head)")
        if status == 403:
            raise PlacementSearchError(
                f"the dashboard at {self.address} refused the request: invalid auth token (from {self.token_source}); "
                f"set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on the head)")

    def _call(self, what: str, fn, *a, **kw):
        from ray.exceptions import AuthenticationError

        try:
            return fn(*a, **kw)
        except AuthenticationError as exc:
            self._check_auth(403 if "invalid" in str(exc).lower() else 401)
            raise
        except ConnectionError as exc:
            raise PlacementSearchError(f"lost the dashboard at {self.address} while trying to {what}: "
                                       f"{_one_line(exc)}") from None
        except RuntimeError as exc:
            text = _one_line(exc)
            if "404" in text or "does not exist" in text:
                raise PlacementSearchError(f"no job {a[0] if a else ''} at {self.address}; list the jobs with "
                                           f"`placement-search jobs --address {self.address}`") from None
            if "already exists" in text or "already in use" in text:
                raise PlacementSearchError(f"a job named {kw.get('submission_id', '')} already exists at "
                                           f"{self.address}; pick another --name") from None
            if "413" in text or "request body size" in text:
                raise PlacementSearchError(
                    f"could not {what} at {self.address}: the project folder is over the dashboard's upload limit "
                    f"(100 MiB); move large files that git does not track out of it, or list them in .gitignore "
                    f"(Ray skips what .gitignore names)") from None
            raise PlacementSearchError(f"could not {what} at {self.address}: {text[:300]}") from None

    def exists(self, job_id: str) -> bool:
        try:
            self.client.get_job_info(job_id)
        except RuntimeError as exc:
            if "404" in str(exc) or "does not exist" in str(exc):
                return False
            raise PlacementSearchError(f"could not read job {job_id} at {self.address}: {_one_line(exc)[:300]}") from None
        return True

    def submit(self, entrypoint: str, runtime_env: dict, submission_id: str) -> str:
        if self.exists(submission_id):
            raise PlacementSearchError(f"a job named {submission_id} already exists at {self.address}; pick another "
                                       "--name (the job id is the search name)")
        return self._call("submit the job", self.client.submit_job, entrypoint=entrypoint, runtime_env=runtime_env,
                          submission_id=submission_id, metadata={"placement_search": submission_id})

    def info(self, job_id: str):
        return self._call("read the job", self.client.get_job_info, job_id)

    def status(self, job_id: str) -> str:
        status = self.info(job_id).status
        return str(getattr(status, "value", status))

    def list(self):
        return self._call("list the jobs", self.client.list_jobs)

    def logs(self, job_id: str) -> str:
        self.info(job_id)
        return self._call("read the job's logs", self.client.get_job_logs, job_id)

    def follow(self, job_id: str, out) -> str:
        """Stream the job's logs to ``out`` until it ends; return its final status."""
        import asyncio

        self.info(job_id)

        async def tail():
            async for chunk in self.client.tail_job_logs(job_id):
                out.write(chunk)
                out.flush()

        try:
            asyncio.run(tail())
        except KeyboardInterrupt:
            print(f"\nstopped following; job {job_id} goes on", file=out)
            raise
        except Exception:  # noqa: BLE001 - the stream broke: fall back to polling the status
            pass
        deadline = time.monotonic() + 30
        while True:
            status = self.status(job_id)
            if status in TERMINAL or time.monotonic() > deadline:
                return status
            time.sleep(1)

    def stop(self, job_id: str) -> bool:
        self.info(job_id)
        return self._call("stop the job", self.client.stop_job, job_id)


def project_root() -> Path | None:
    """The repository root this package runs from, or None when it is installed as a wheel."""
    import placement_search

    root = Path(placement_search.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "placement_search").is_dir() else None


def _is_relative_sqlite(url: str | None) -> bool:
    if url is None:
        return True
    if "://" in url:
        m = re.match(r"sqlite(\+\w+)?:///(.*)", url)
        return bool(m) and not m.group(2).startswith("/")
    return not Path(url).is_absolute()


@dataclass
class Submission:
    name: str
    entrypoint: str
    runtime_env: dict = field(default_factory=dict)


def build_submission(config: str, overrides: list[str], *, searcher: str | None = None, num_samples: int | None = None,
                     name: str | None = None, store: str | None = None, seed: int | None = None,
                     max_concurrent: int | None = None, python: str = "python") -> Submission:
    """Validate the search locally and build the job's entrypoint and runtime environment."""
    from placement_search.config import config_file, load_config
    from placement_search.search.searchers import parse_searcher
    from placement_search.search.service import _default_name, check_name

    cfg = load_config(config, overrides)
    searcher_name = parse_searcher(searcher or cfg.search.searcher)
    if num_samples is not None and num_samples < 1:
        raise PlacementSearchError(f"--num-samples must be at least 1, got {num_samples}")
    name = check_name(name or _default_name(cfg, searcher_name))
    store_url = store or cfg.search.store
    if _is_relative_sqlite(store_url):
        raise PlacementSearchError(
            f"the results store {store_url or '(default runs/placement_search.sqlite)'} would live in the job's "
            "temporary working directory and vanish with it; pass --store postgresql://USER@HOST/DB or an absolute "
            "SQLite path on storage every node shares")

    if store and re.match(r"[a-z0-9+]+://[^/@:]+:[^/@]+@", store):
        import sys

        print("warning: the --store URL carries a password, and the job's entrypoint (shown by the dashboard and "
              "`placement-search jobs`) will too; prefer a URL without it and PGPASSWORD or ~/.pgpass on the head",
              file=sys.stderr)
    root = project_root()
    config_path = config_file(config).resolve()  # a path, or a shipped preset's file
    env_vars = {"RAY_AIR_NEW_OUTPUT": "0"}
    runtime_env: dict = {"env_vars": env_vars}
    if root is not None:
        runtime_env["working_dir"] = str(root)
        runtime_env["excludes"] = list(EXCLUDES)
    else:
        import placement_search

        runtime_env["py_modules"] = [str(Path(placement_search.__file__).resolve().parent)]

    prelude = ""
    shipped = root is not None and config_path.is_relative_to(root)
    if shipped and config_path.relative_to(root).parts[0] not in {p.strip("/") for p in EXCLUDES}:
        job_config = config_path.relative_to(root).as_posix()
    else:  # ship the file's text and write it in the job's working directory
        env_vars[CONFIG_ENV] = config_path.read_text()
        job_config = "_submitted_config.yaml"
        prelude = (f"{shlex.quote(python)} -c " + shlex.quote(
            f"import os; open({job_config!r}, 'w').write(os.environ[{CONFIG_ENV!r}])") + " && ")

    argv = [python, "-m", "placement_search.cli", "run", job_config, "--name", name, "--searcher", searcher_name,
            "--address", "auto"]
    if num_samples is not None:
        argv += ["--num-samples", str(num_samples)]
    if store:
        argv += ["--store", store]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if max_concurrent is not None:
        argv += ["--max-concurrent", str(max_concurrent)]
    for item in overrides:
        argv += ["--set", item]
    return Submission(name, prelude + shlex.join(argv), runtime_env)
