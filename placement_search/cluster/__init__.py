"""Running placement searches on a Ray cluster: job submission through the dashboard's job API.

``placement-search submit CONFIG --address http://HEAD:8265`` ships the project and the config to
the cluster and runs ``placement-search run ... --address auto`` there as a Ray job named after the
search; ``jobs``, ``logs`` and ``stop`` follow it. See :mod:`placement_search.cluster.jobs` and
``cluster/README.md`` for the cluster side (launcher YAML, KubeRay manifests, Dockerfile).
"""

from placement_search.cluster.jobs import (
    JobClient,
    auth_token,
    build_submission,
)

__all__ = ["JobClient", "auth_token", "build_submission"]
