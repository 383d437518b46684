"""Task data: built-in, hub and local data sets, split deterministically, prepared for a backbone.

``load_task(cfg.task, backbone)`` is the one entry point; modules behind it do one job each:
sources (name -> DatasetDict), builtins (offline and synthetic tasks), columns (column and label
detection), splitting (seeded stratified plans), prepare (tokenisation, image tensors), task
(orchestration and fingerprint). ``resolve_task_paths(cfg)`` makes a relative task path absolute
(against the working directory) before a config travels to Ray workers.
"""

from placement_search.data.builtins import BUILTIN_TASKS
from placement_search.data.sources import resolve_task_paths
from placement_search.data.task import load_task
from placement_search.data.task_data import Split, TaskData

__all__ = ["load_task", "resolve_task_paths", "Split", "TaskData", "BUILTIN_TASKS"]
