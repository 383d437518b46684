"""The cluster sub-commands of ``placement-search``: submit, jobs, logs, stop (see cli.PLUGINS)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from placement_search.errors import PlacementSearchError

ADDRESS_HELP = ("the head's dashboard, e.g. http://127.0.0.1:8265 through a port-forward "
                "(default: $RAY_API_SERVER_ADDRESS); token from $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")


def add_commands(subparsers, handlers: dict) -> None:
    p = subparsers.add_parser("submit", help="run a search on a Ray cluster as a Ray job named after the search")
    p.add_argument("config", help="search-space YAML or preset name, e.g. minilm_trec6 or my_space.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set search.storage_path=s3://bucket/tune")
    p.add_argument("--address", help=ADDRESS_HELP)
    p.add_argument("--searcher", help="random, tpe, gga-tpe, exhaustive or baseline:NAME (default: search.searcher)")
    p.add_argument("--num-samples", type=int, help="number of trials (default: search.num_samples)")
    p.add_argument("--name", help="search and job name (default: <config name>-<searcher>-<time>)")
    p.add_argument("--store", help="results store every node reaches: postgresql://... or an absolute SQLite path "
                                   "on shared storage (default: search.store)")
    p.add_argument("--seed", type=int, help="searcher seed (default: search.seed)")
    p.add_argument("--max-concurrent", type=int, help="cap on trials running at once")
    p.add_argument("--python", default="python", help="Python on the cluster's head (default: python)")
    p.add_argument("--follow", action="store_true", help="stream the job's logs until it ends; exit 2 unless it succeeds")
    handlers["submit"] = cmd_submit

    p = subparsers.add_parser("jobs", help="list the Ray jobs of a cluster")
    p.add_argument("--address", help=ADDRESS_HELP)
    handlers["jobs"] = cmd_jobs

    p = subparsers.add_parser("logs", help="print (or --follow) the logs of a Ray job")
    p.add_argument("job", help="job id (the search name for submitted searches)")
    p.add_argument("--address", help=ADDRESS_HELP)
    p.add_argument("--follow", "-f", action="store_true", help="stream until the job ends")
    handlers["logs"] = cmd_logs

    p = subparsers.add_parser("stop", help="stop a running Ray job")
    p.add_argument("job", help="job id (the search name for submitted searches)")
    p.add_argument("--address", help=ADDRESS_HELP)
    handlers["stop"] = cmd_stop


def cmd_submit(args) -> None:
    from placement_search.cluster.jobs import JobClient, build_submission

    sub = build_submission(args.config, args.overrides, searcher=args.searcher, num_samples=args.num_samples,
                           name=args.name, store=args.store, seed=args.seed, max_concurrent=args.max_concurrent,
                           python=args.python)
    client = JobClient(args.address)
    job_id = client.submit(sub.entrypoint, sub.runtime_env, sub.name)
    a = client.address
    print(f"submitted search {sub.name} as Ray job {job_id} to {a}")
    print(f"  follow:    placement-search logs {job_id} --address {a} --follow")
    print(f"  status:    placement-search jobs --address {a}")
    print(f"  stop:      placement-search stop {job_id} --address {a}")
    print(f"  dashboard: {a}/#/jobs/{job_id}")
    sys.stdout.flush()
    if args.follow:
        _finish(client, job_id, client.follow(job_id, sys.stdout))


def _finish(client, job_id: str, status: str) -> None:
    print(f"job {job_id}: {status}")
    if status != "SUCCEEDED":
        info = client.info(job_id)
        message = " ".join(str(info.message or "").split())[:300]
        raise PlacementSearchError(f"job {job_id} ended {status}{': ' + message if message else ''}; see "
                                   f"`placement-search logs {job_id} --address {client.address}`")


def _time(ms) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_jobs(args) -> None:
    from placement_search.cluster.jobs import JobClient

    client = JobClient(args.address)
    jobs = [j for j in client.list() if j.submission_id]
    if not jobs:
        print(f"no jobs at {client.address}; submit one with `placement-search submit CONFIG --address {client.address}`")
        return
    jobs.sort(key=lambda j: j.start_time or 0)
    rows = [("job", "status", "started (UTC)", "ended (UTC)", "message")]
    for j in jobs:
        status = str(getattr(j.status, "value", j.status))
        rows.append((j.submission_id, status, _time(j.start_time), _time(j.end_time),
                     " ".join(str(j.message or "").split())[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])


def cmd_logs(args) -> None:
    from placement_search.cluster.jobs import JobClient

    client = JobClient(args.address)
    if args.follow:
        _finish(client, args.job, client.follow(args.job, sys.stdout))
    else:
        sys.stdout.write(client.logs(args.job))


def cmd_stop(args) -> None:
    from placement_search.cluster.jobs import JobClient

    client = JobClient(args.address)
    if client.stop(args.job):
        print(f"stopping job {args.job}")
    else:
        print(f"job {args.job} was not running ({client.status(args.job)})")
