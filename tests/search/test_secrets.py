"""A store password never lands in a file the product writes: Tune's and the searcher's state, the
stored config, Ray's session folder, an export. Resume gets it back from the user."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from postgres_fixture import postgres_server, postgres_url  # noqa: F401 (fixtures)
from sqlalchemy import text

from placement_search.store import STORE_URL_ENV, open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"
PASSWORD = "Hunter2-not-in-any-file"


def _files_holding(root: Path, secret: bytes, since: float) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since and \
                    path.stat().st_size < 50_000_000 and secret in path.read_bytes():
                hits.append(str(path))
        except OSError:
            continue
    return hits


def test_store_password_is_written_nowhere(tmp_path, postgres_url):  # noqa: F811
    start = time.time() - 1
    url = postgres_url.replace("postgresql+psycopg://placement_test@", f"postgresql://placement_test:{PASSWORD}@")
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    env.pop(STORE_URL_ENV, None)
    cli = [sys.executable, "-m", "placement_search.cli"]
    run = subprocess.run([*cli, "run", str(TINY), "--searcher", "tpe", "--num-samples", "3", "--name", "secret",
                          "--store", url, "--set", f"search.store={url}", "--set", "space.k=1",
                          "--set", f"search.storage_path={tmp_path / 'tune'}"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert PASSWORD not in run.stdout + run.stderr
    with open_store(url) as store:
        record = store.get_search("secret")
        assert PASSWORD not in repr(record.config) + repr(record.options)
        assert "***" in record.config["search"]["store"]
        # lose one trial and mark the search interrupted: resume must reach the store with the password
        with store._write() as session:
            session.execute(text("DELETE FROM trials WHERE id = (SELECT max(id) FROM trials)"))
        store.set_search_status("secret", "interrupted")
    masked = f"postgresql+psycopg://placement_test:***@{url.split('@', 1)[1]}"
    refused = subprocess.run([*cli, "resume", "secret", "--store", masked], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr[-2000:]
    resumed = subprocess.run([*cli, "resume", "secret"], cwd=tmp_path, env={**env, STORE_URL_ENV: url},
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    export = subprocess.run([*cli, "export", "secret", "--out", str(tmp_path / "export"), "--store", url],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert export.returncode == 0, export.stderr[-3000:]
    with open_store(url) as store:
        assert len(store.trials_frame("secret")) == 3 and store.get_search("secret").status == "completed"
    secret = PASSWORD.encode()
    assert _files_holding(tmp_path, secret, start) == []
    assert _files_holding(Path("/tmp/ray"), secret, start) == []
