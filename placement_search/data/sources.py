"""Turn a task name into a raw ``datasets.DatasetDict``: built-in, hub data set, or local file.

Names (``task.name`` in a config):
- a built-in: ``trec6``, ``fashion-mnist``, ``tiny-text``, ``tiny-image``;
- ``hf:<path>[/<config>]``: ``hf:glue/sst2`` is ``load_dataset("glue", "sst2")``; three parts
  (``hf:org/name/config``) are a namespaced path plus config; for two parts whose first is not a
  loadable data set with that config, ``org/name`` is tried as one path;
- a ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` file (its rows form one ``train`` split);
- a folder of images in class sub-folders (``imagefolder``; ``train/``, ``test/`` sub-folders give
  named splits).

Relative paths are resolved against the **working directory** (not the config file's folder), as a
shell user expects of ``task.name: data/train.csv``. Ray workers run in other folders, so a search
hands them :func:`resolve_task_paths`'s copy of the config, whose path is absolute.

Local files and folders are read into memory through a temporary ``datasets`` cache that is
removed afterwards: nothing is left in the user's ``datasets`` cache (~/.cache/huggingface), for
rejected files neither. An empty file, a header without rows and a folder without images are
refused with their own one-line message.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import DatasetDict

from placement_search.data.builtins import BUILTIN_TASKS
from placement_search.errors import PlacementSearchError

if TYPE_CHECKING:
    from placement_search.config import Config

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


def local_task_path(name: str, base_dir: str | Path | None = None) -> Path | None:
    """The absolute path a task name refers to, or None for a built-in, hub or unknown name.

    A name is a path when it has a data-file suffix (``.csv``, ...), contains a path separator,
    starts with ``~`` or ``.``, or is an existing folder; relative ones are joined to ``base_dir``
    (default: the working directory). Built-in names always mean the built-in.
    """
    if name in BUILTIN_TASKS or name.startswith("hf:"):
        return None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    path = Path(os.path.normpath(Path(base).absolute() / Path(name).expanduser()))
    looks_like_path = (
        Path(name).suffix.lower() in FILE_BUILDERS or "/" in name or os.sep in name or name.startswith(("~", "."))
    )
    return path if looks_like_path or path.is_dir() else None


def _not_found(name: str, base: Path) -> PlacementSearchError:
    kind = "file" if Path(name).suffix.lower() in FILE_BUILDERS else "path"
    if Path(name).expanduser().is_absolute():
        return PlacementSearchError(f"task {kind} {name} not found; check task.name")
    return PlacementSearchError(
        f"task {kind} {name} not found (relative paths are resolved against the working directory "
        f"{base.absolute()}); check task.name or give an absolute path"
    )


def resolve_task_paths(cfg: Config, base_dir: str | Path | None = None) -> Config:
    """A copy of ``cfg`` whose local task path is absolute (other names pass unchanged).

    Relative paths are resolved against ``base_dir``, by default the working directory (see the
    module docstring); a relative path that does not exist there is refused, naming that
    directory. Absolute paths are kept as they are, existing or not: on a cluster the data may
    live only where the workers run. Cheap (no data is read) and idempotent. ``cfg`` itself is not
    changed, so the config a search stores keeps the path as the user wrote it.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    name = cfg.task.name
    path = local_task_path(name, base)
    out = copy.deepcopy(cfg)
    if path is None:
        return out
    if not Path(name).expanduser().is_absolute() and not path.exists():
        raise _not_found(name, base)
    out.task.name = str(path)
    return out


def load_source(name: str) -> Source:
    """Load the raw splits that ``name`` refers to (see the module docstring for the forms)."""
    if name in BUILTIN_TASKS:
        task = BUILTIN_TASKS[name]
        splits, info = task.load()
        return Source(name, f"builtin:{name}:v{task.version}", splits, task.modality, dict(info))
    if name.startswith("hf:"):
        return _load_hub(name)
    path = local_task_path(name)
    if path is not None and path.is_dir():
        _check_image_folder(name, path)
        return _load_local(name, path, "imagefolder", data_dir=str(path))
    if path is not None and path.suffix.lower() in FILE_BUILDERS:
        if not path.is_file():
            raise _not_found(name, Path.cwd())
        _check_file(name, path)
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        return _load_local(name, path, FILE_BUILDERS[path.suffix.lower()], data_files=str(path), **kwargs)
    if path is not None and not path.exists():
        raise _not_found(name, Path.cwd())
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


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    out = [exc]
    while True:
        inner = out[-1].__cause__ or out[-1].__context__
        if inner is None or any(inner is seen for seen in out):
            return out
        out.append(inner)


def _root_cause(exc: BaseException) -> str:
    """The parser's own message, which ``datasets`` wraps: a decoding error if there is one (the
    parser's fallbacks fail with vaguer messages after it), else the innermost exception."""
    chain = _chain(exc)
    decoding = [e for e in chain if isinstance(e, UnicodeDecodeError)]
    if decoding:
        return f"it is not UTF-8 text ({_first_line(decoding[0])}); save it as UTF-8"
    return _first_line(chain[-1])


def _check_file(name: str, path: Path) -> None:
    """Refuse an empty file, or a CSV/TSV with a header but no rows, before ``datasets`` reads it."""
    import pandas as pd

    try:
        size = path.stat().st_size
        blank = size == 0 or not path.read_bytes()[:65536].strip()
    except OSError as exc:
        raise PlacementSearchError(f"task file {name} cannot be read ({exc.strerror}); check its permissions") from None
    if blank:
        raise PlacementSearchError(
            f"task file {name} is empty ({size} bytes); it needs a header row (e.g. text,label) and one row per example"
        )
    if path.suffix.lower() in (".csv", ".tsv"):
        try:
            head = pd.read_csv(path, nrows=1, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        except Exception:  # a malformed file: datasets' parser names the problem below
            return
        if len(head) == 0:
            columns = ", ".join(str(c) for c in head.columns)
            raise PlacementSearchError(
                f"task file {name} has a header ({columns}) but no rows; add one row per example"
            )


def image_extensions() -> frozenset[str]:
    """File suffixes ``datasets``' imagefolder reads as images."""
    from datasets.packaged_modules.imagefolder.imagefolder import ImageFolder

    return frozenset(e.lower() for e in ImageFolder.EXTENSIONS)


def _check_image_folder(name: str, path: Path) -> None:
    """Refuse a folder without image files, or with its images only at the top (no class folders)."""
    extensions = image_extensions()
    top_level = 0
    for root, dirs, files in os.walk(path):
        dirs.sort()
        images = [f for f in files if Path(f).suffix.lower() in extensions]
        if images and Path(root) != path:
            return
        top_level += len(images)
    if top_level:
        raise PlacementSearchError(
            f"task folder {name} has its images ({top_level} found) directly inside it, not in class folders; put them "
            "in one sub-folder per class (the sub-folder's name is the label)"
        )
    shown = ", ".join(sorted(e for e in extensions if e in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")))
    raise PlacementSearchError(
        f"task folder {name} holds no image files ({shown}, ...); point task.name at a folder with one "
        "sub-folder of images per class, or at a csv/json/parquet file"
    )


def _load_local(name: str, path: Path, builder: str, **kwargs) -> Source:
    from datasets import load_dataset
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()  # a local file converts in a blink; its bar would only clutter the output
    verbosity = ds_logging.get_verbosity()
    ds_logging.set_verbosity(ds_logging.CRITICAL)  # a bad file is one error line below, not a log dump
    # datasets converts the file to Arrow in a cache folder: use a private one, read the result
    # into memory and remove the folder, so nothing is left in the user's datasets cache
    cache = tempfile.mkdtemp(prefix="placement-search-datasets-")
    kind = "folder" if builder == "imagefolder" else "file"
    try:
        loaded = load_dataset(builder, cache_dir=cache, keep_in_memory=True, **kwargs)
    except Exception as exc:  # datasets raises many types; the user needs one line
        if isinstance(exc, ValueError) and "corresponds to no data" in str(exc):
            raise PlacementSearchError(f"task {kind} {name} holds no rows; add one row per example") from None
        raise PlacementSearchError(f"could not read task {name} as {builder}: {_root_cause(exc)}") from exc
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        ds_logging.set_verbosity(verbosity)
        if was_enabled:
            ds_logging.enable_progress_bar()
    splits = _as_dict(loaded, name)
    if not any(len(split) for split in splits.values()):
        raise PlacementSearchError(f"task {kind} {name} holds no rows; add one row per example")
    return Source(name, f"{builder}:{path}", splits)


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
