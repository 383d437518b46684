"""Turn a task name into a raw ``datasets.DatasetDict``: built-in, hub data set, or local file.

Names (``task.name`` in a config):
- a built-in: ``trec6``, ``fashion-mnist``, ``tiny-text``, ``tiny-image``;
- ``hf:<path>[/<config>]``: ``hf:glue/sst2`` is ``load_dataset("glue", "sst2")``; three parts
  (``hf:org/name/config``) are a namespaced path plus config; for two parts whose first is not a
  loadable data set with that config, ``org/name`` is tried as one path;
- a ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` file (its rows form one ``train`` split);
- a folder of images in class sub-folders (``imagefolder``; ``train/``, ``test/`` sub-folders give
  named splits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetDict

from placement_search.data.builtins import BUILTIN_TASKS
from placement_search.errors import PlacementSearchError

FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


@dataclass
class Source:
    """A task's raw splits plus what identifies them.

    identity: the source part of the data fingerprint (built-ins carry their content version).
    modality: known up front for built-ins (so a mismatch fails before any loading), else None.
    """

    name: str
    identity: str
    splits: DatasetDict
    modality: str | None = None
    info: dict = field(default_factory=dict)


def builtin_modality(name: str) -> str | None:
    """The modality of a built-in task, None for other names."""
    task = BUILTIN_TASKS.get(name)
    return task.modality if task else None


def load_source(name: str) -> Source:
    """Load the raw splits that ``name`` refers to (see the module docstring for the forms)."""
    if name in BUILTIN_TASKS:
        task = BUILTIN_TASKS[name]
        splits, info = task.load()
        return Source(name, f"builtin:{name}:v{task.version}", splits, task.modality, dict(info))
    if name.startswith("hf:"):
        return _load_hub(name)
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_local(name, "imagefolder", data_dir=str(path))
    if path.suffix.lower() in FILE_BUILDERS:
        if not path.is_file():
            raise PlacementSearchError(f"task file {name} does not exist; check task.name")
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        return _load_local(name, FILE_BUILDERS[path.suffix.lower()], data_files=str(path), **kwargs)
    raise PlacementSearchError(
        f"unknown task {name!r}: set task.name to a built-in ({', '.join(BUILTIN_TASKS)}), "
        f"hf:<path>[/<config>], a {'/'.join(FILE_BUILDERS)} file, or an image folder"
    )


def _as_dict(loaded, name: str) -> DatasetDict:
    if not isinstance(loaded, DatasetDict) or not loaded:
        raise PlacementSearchError(f"task {name} did not load as named splits; point task.name at the whole data set")
    return loaded


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _load_local(name: str, builder: str, **kwargs) -> Source:
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    was_enabled = is_progress_bar_enabled()
    disable_progress_bar()  # a local file converts in a blink; its bar would only clutter the output
    try:
        loaded = load_dataset(builder, **kwargs)
    except Exception as exc:  # datasets raises many types; the user needs one line
        raise PlacementSearchError(f"could not read task {name} as {builder}: {_first_line(exc)}") from exc
    finally:
        if was_enabled:
            enable_progress_bar()
    return Source(name, f"{builder}:{name}", _as_dict(loaded, name))


def hub_candidates(name: str) -> list[tuple[str, str | None]]:
    """The (path, config) pairs ``hf:...`` may mean, most likely first."""
    parts = [p for p in name[len("hf:"):].split("/") if p]
    if len(parts) == 1:
        return [(parts[0], None)]
    if len(parts) == 2:
        return [(parts[0], parts[1]), ("/".join(parts), None)]
    if len(parts) == 3:
        return [("/".join(parts[:2]), parts[2])]
    raise PlacementSearchError(f"task {name!r} is not hf:<path>[/<config>] (e.g. hf:glue/sst2); fix task.name")


def _load_hub(name: str) -> Source:
    from datasets import load_dataset

    errors = []
    for path, config in hub_candidates(name):
        try:
            loaded = load_dataset(path, config) if config else load_dataset(path)
        except Exception as exc:  # no network, unknown name, unknown config, ...
            errors.append(f"{path}" + (f" ({config})" if config else "") + f": {_first_line(exc)}")
            if isinstance(exc, ConnectionError):  # no hub: another reading of the name will not help
                break
            continue
        return Source(name, name, _as_dict(loaded, name))
    raise PlacementSearchError(
        f"could not load hub data set {name}: {'; '.join(errors)}; check the name, or save it to a local file"
    )
