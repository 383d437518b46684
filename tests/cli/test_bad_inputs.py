"""The bad-inputs table: each bad input through ``placement_search.cli.main``, in-process.

Every case must exit 2 with one line ``error: ...`` on stderr and write nothing: no file appears
in the working directory (no results store, no ``runs/``), nothing in the ``datasets`` cache or the
temp folder. The cases that pass form the table in README.md between the ``bad-inputs`` markers;
the test fails when the README differs, and ``UPDATE_README=1`` rewrites it.

Paths in messages are shown relative to ``$PWD`` (each case runs in its own empty folder holding
copies of the tiny presets as ``search_spaces/``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from placement_search.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START, END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"
TINY, VISION = "search_spaces/tiny.yaml", "search_spaces/tiny_vision.yaml"
LONG_NAME = "n" * 300


def csv(rows: list[tuple], header=("text", "label")) -> bytes:
    return ("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n").encode()


def png_folder(root: Path, broken: str | None = None) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("ant", "bee")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            Image.fromarray((rng.random((12, 12)) * 100 + 60 * c).astype(np.uint8)).save(root / name / f"{i}.png")
    if broken:
        (root / broken).write_bytes(b"not a png")


def flat_folder(root: Path) -> None:
    from PIL import Image

    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((12, 12), 40 * i, dtype=np.uint8)).save(root / f"{i}.png")


def image_export(root: Path) -> None:
    """``exp/``: an exported (untrained) tiny-vit image model, as `placement-search export` writes it."""
    from placement_search import PlacedModelForClassification
    from placement_search.backbones import load_backbone
    from placement_search.config import load_config
    from placement_search.data.prepare import image_settings
    from placement_search.placement.edges import Placement
    from placement_search.placement.placed_model import PlacedModel

    cfg = load_config(ROOT / VISION)
    backbone = load_backbone(cfg.backbone)
    spec = {**image_settings(backbone.input_spec(), cfg.task.image_size), "resize": "torch"}
    model = PlacedModel(backbone, Placement.parse("1->2"), 4, cfg.adapter)
    PlacedModelForClassification.from_trained(model, cfg, "abcd", spec).save_pretrained(root / "exp")


@dataclass
class Case:
    """One bad input: ``argv`` run in a folder holding ``files`` (name -> bytes) and ``setup``."""

    id: str
    argv: list[str]
    expect: str  # a fragment of the message
    note: str = ""  # what the input files hold, for the table
    files: dict[str, bytes] = field(default_factory=dict)
    setup: object = None  # function(folder) that builds more input
    shown: str = ""  # the command as the table shows it (default: argv)
    lead: bool = False  # store/service cases fixed outside the CLI/config/data layers


CASES = [
    # ---- config file and --set
    Case("section-typo-in-file", ["space", "c.yaml"], "unknown config section 'trainig'; did you mean 'training'?",
         "c.yaml: `trainig: {epochs: 1}`", {"c.yaml": b"trainig:\n  epochs: 1\n"}),
    Case("section-typo-in-set", ["space", TINY, "--set", "trainig.epochs=1"],
         "unknown config section 'trainig' in --set trainig.epochs=1; did you mean 'training'?"),
    Case("key-typo-in-file", ["space", "c.yaml"], "unknown config key training.epoch; did you mean training.epochs?",
         "c.yaml: `training: {epoch: 3}`", {"c.yaml": b"training:\n  epoch: 3\n"}),
    Case("key-typo-in-set", ["space", TINY, "--set", "task.nmae=trec6"],
         "unknown config key task.nmae in --set task.nmae=trec6; did you mean task.name?"),
    Case("duplicate-section", ["space", "c.yaml"], "key 'training' appears twice (lines 1 and 3)",
         "c.yaml: two `training:` sections", {"c.yaml": b"training:\n  epochs: 1\ntraining:\n  lr: 0.1\n"}),
    Case("yaml-syntax", ["space", "c.yaml"], "is not valid YAML at line", "c.yaml: `training: [1, 2`",
         {"c.yaml": b"training: [1, 2\n"}),
    Case("set-yaml-syntax", ["space", TINY, "--set", "training.lr=[1"], "has a value that is not valid YAML"),
    Case("set-malformed", ["space", TINY, "--set", "epochs=1"], "is malformed; write section.key=value"),
    Case("not-a-number", ["space", TINY, "--set", "training.lr=fast"], "training.lr must be a number"),
    Case("integer-as-float", ["space", TINY, "--set", "training.batch_size=1e3"],
         "training.batch_size must be an integer, got 1000.0"),
    Case("infinite", ["space", TINY, "--set", "training.epochs=.inf"], "training.epochs must be a finite number"),
    Case("negative-seed-in-config", ["space", TINY, "--set", "task.split_seed=-1"],
         "task.split_seed must be a seed from 0 to 4294967295"),
    Case("config-max-concurrent", ["space", TINY, "--set", "search.max_concurrent=-1"],
         "search.max_concurrent must be positive"),
    Case("missing-config", ["space", "missing.yaml"], "config file missing.yaml does not exist"),
    Case("unknown-preset", ["run", "minilm_trec"], "is not a preset; did you mean 'minilm_trec6'? presets: "),
    # ---- command-line flags, checked before a config is read, Ray starts or a store opens
    Case("no-config-argument", ["space"], "the following arguments are required: config"),
    Case("unknown-flag", ["run", TINY, "--max-concurency", "2"], "unrecognized arguments: --max-concurency 2"),
    Case("store-without-flag", ["list", "results.sqlite"],
         "unrecognized arguments: results.sqlite; a results store is named with --store (--store results.sqlite)"),
    Case("max-concurrent", ["run", TINY, "--max-concurrent", "-1"], "--max-concurrent must be at least 1, got -1"),
    Case("num-samples", ["run", TINY, "--num-samples", "0"], "--num-samples must be at least 1, got 0"),
    Case("seed-nonsense", ["run", TINY, "--seed", "first"], "argument --seed: invalid int value: 'first'"),
    Case("seed-negative", ["run", TINY, "--seed", "-1"], "--seed must be from 0 to 4294967295, got -1"),
    Case("replay-seeds", ["run", TINY, "--replay", "--replay-seeds", "0"], "--replay-seeds must be at least 1"),
    Case("replay-seeds-without-replay", ["run", TINY, "--replay-seeds", "3"], "--replay-seeds needs --replay"),
    Case("gga-k", ["gga", TINY, "-k", "0"], "-k must be at least 1, got 0"),
    Case("gga-gamma", ["gga", TINY, "--gamma", "1.5"], "--gamma must be in [0, 1), got 1.5"),
    Case("gga-gamma-nan", ["gga", TINY, "--gamma", "nan"], "--gamma must be in [0, 1), got nan"),
    Case("show-top", ["show", "any", "--top", "0"], "--top must be at least 1, got 0"),
    Case("analyze-n-boot", ["analyze", "--store", "s.sqlite", "--n-boot", "-5"], "--n-boot must be at least 0"),
    Case("submit-num-samples", ["submit", TINY, "--num-samples", "0"], "--num-samples must be at least 1"),
    Case("train-out-folder", ["train", TINY, "-p", "empty", "--out", "search_spaces"],
         "--out search_spaces is a folder; name the file to write"),
    # ---- task data (tiny-bert / tiny-vit; refused before any training)
    Case("one-class", ["train", TINY, "-p", "empty", "--set", "task.name=one.csv"],
         "has only one class ('pos')", "one.csv: 40 rows, every label `pos`",
         {"one.csv": csv([(f"question {i}", "pos") for i in range(40)])}),
    Case("split-without-class", ["train", TINY, "-p", "empty", "--set", "task.name=rare.csv"],
         "split without an example of class 'c'", "rare.csv: 40 rows of classes a, b and one of class c",
         {"rare.csv": csv([(f"question {i}", "ab"[i % 2]) for i in range(40)] + [("lonely", "c")])}),
    Case("limit-below-classes", ["train", TINY, "-p", "empty", "--set", "task.validation_samples=2"],
         "raise task.validation_samples to at least 4"),
    Case("header-only", ["train", TINY, "-p", "empty", "--set", "task.name=header.csv"],
         "has a header (text, label) but no rows", "header.csv: `text,label` and nothing else",
         {"header.csv": b"text,label\n"}),
    Case("zero-bytes", ["train", TINY, "-p", "empty", "--set", "task.name=empty.csv"], "is empty (0 bytes)",
         "empty.csv: 0 bytes", {"empty.csv": b""}),
    Case("not-utf8", ["train", TINY, "-p", "empty", "--set", "task.name=latin1.csv"], "it is not UTF-8 text",
         "latin1.csv: Latin-1 text", {"latin1.csv": b"text,label\n" + b"caf\xe9,1\n" * 20 + b"tea,0\n" * 20}),
    Case("relative-path-missing", ["train", TINY, "-p", "empty", "--set", "task.name=data/train.csv"],
         "task file data/train.csv not found (relative paths are resolved against the working directory"),
    Case("folder-without-images", ["train", VISION, "-p", "empty", "--set", "task.name=docs"],
         "task folder docs holds no image files", "docs/: class folders of .txt files",
         {"docs/a/notes.txt": b"hello", "docs/b/notes.txt": b"world"}),
    Case("images-without-class-folders", ["train", VISION, "-p", "empty", "--set", "task.name=flat"],
         "directly inside it, not in class folders", "flat/: 3 PNGs, no class folders",
         setup=lambda d: flat_folder(d / "flat")),
    Case("broken-image", ["train", VISION, "-p", "empty", "--set", "task.name=imgs"],
         "broken.png cannot be read", "imgs/: 2 class folders of PNGs, one file not an image",
         setup=lambda d: png_folder(d / "imgs", broken="bee/broken.png")),
    # ---- predict: an export folder and what it is asked to classify
    Case("predict-missing-export", ["predict", "exported", "what is this"], "export folder exported does not exist"),
    Case("predict-not-an-export", ["predict", "search_spaces", "what is this"],
         "search_spaces is not a placement-search export (it has no config.json)"),
    Case("predict-top-k", ["predict", "exp", "what is this", "--top-k", "0"], "--top-k must be at least 1, got 0"),
    Case("predict-text-to-image-model", ["predict", "exp", "a photo of a cat"], "is not an image file (no such file)",
         "exp/: an exported tiny-vit image model", setup=image_export),
    Case("predict-not-an-image", ["predict", "exp", "notes.png"], "notes.png is not an image this model can read",
         "exp/: an exported tiny-vit image model; notes.png: text", {"notes.png": b"hello"}, setup=image_export),
    # ---- store and service (the lead's part of issue 11)
    Case("store-url", ["list", "--store", "postgresql://u:p@[::1"], "malformed results store URL", lead=True),
    Case("store-typo", ["list", "--store", "typo.sqlite"], "no results store at", lead=True),
    Case("show-store-typo", ["show", "any", "--store", "typo.sqlite"], "no results store at", lead=True),
    Case("prior-source-typo", ["run", TINY, "--set", "search.prior_sources=sibling.sqlite"],
         "search.prior_sources: cannot read sibling.sqlite (no results store at"),
    Case("long-name", ["run", TINY, "--name", LONG_NAME], "128", lead=True,
         shown=f"placement-search run {TINY} --name nnn…n (300 characters)"),
]

#: cases the lead is still fixing: xfail (not strict) until they pass
LEAD_PENDING: set[str] = set()
RESULTS: dict[str, tuple[int, str]] = {}


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_case(case: Case, folder: Path, cache: Path, temp: Path, monkeypatch, capsys) -> tuple[int, list[str], str]:
    """Run one case in ``folder``; returns (exit code, stderr lines, problems with what it left)."""
    import datasets

    shutil.copytree(ROOT / "search_spaces", folder / "search_spaces",
                    ignore=lambda d, names: [n for n in names if n not in ("tiny.yaml", "tiny_vision.yaml")])
    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    if case.setup:
        case.setup(folder)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    try:
        import ray

        def no_ray(*args, **kwargs):
            raise RuntimeError("a bad input must be refused before Ray starts")

        monkeypatch.setattr(ray, "init", no_ray)
    except ImportError:
        pass
    before = _snapshot(folder)
    capsys.readouterr()
    try:
        code = main(case.argv)
    except SystemExit as exc:  # argparse's --help, or a bug: the table wants a return value
        code = exc.code
    except Exception as exc:  # a traceback is what this table exists to prevent
        code, _ = 1, capsys.readouterr()
        return code, [f"{type(exc).__name__}: {exc}"], ""
    err = capsys.readouterr().err
    # torch makes its compiler's cache folder in the temp folder the first time a model loads: not ours
    temp_left = [p for p in temp.rglob("*") if not p.relative_to(temp).parts[0].startswith("torchinductor_")]
    left = sorted(_snapshot(folder) - before) + [str(p) for p in [*cache.rglob("*"), *temp_left]]
    return code, err.splitlines(), ", ".join(left)


def _shown_message(line: str, folder: Path) -> str:
    return line.replace(str(folder.resolve()), "$PWD").replace(str(folder), "$PWD")


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=False, reason="the lead's store/service fix")]
                  if c.id in LEAD_PENDING else []) for c in CASES],
)
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    folder, cache, temp = tmp_path / "work", tmp_path / "hf-datasets", tmp_path / "tmp"
    for d in (folder, cache, temp):
        d.mkdir()
    code, lines, left = run_case(case, folder, cache, temp, monkeypatch, capsys)
    assert code == 2, (code, lines)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert case.expect in lines[0], lines[0]
    assert not left, f"the input left files behind: {left}"
    RESULTS[case.id] = (code, _shown_message(lines[0], folder))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def render(results: dict[str, tuple[int, str]]) -> str:
    """The README section (markers included) for the cases in ``results``."""
    rows = []
    for case in CASES:
        if case.id not in results:
            continue
        code, message = results[case.id]
        command = case.shown or "placement-search " + shlex.join(case.argv)
        cell = f"`{command}`" + (f"; {case.note}" if case.note else "")
        rows.append(f"| {_cell(cell)} | {code} | {_cell(message)} |")
    return "\n".join([
        START,
        "### Bad inputs",
        "",
        "Generated by `tests/cli/test_bad_inputs.py` (`UPDATE_README=1` rewrites this section). Each input",
        "runs through the CLI in an empty folder (`$PWD`) and must exit 2 with one `error:` line and write",
        "nothing: no results store, no `runs/`, no files in the `datasets` cache or the temp folder.",
        "Accepted rather than refused: YAML scientific notation (`lr: 1e-3`, `--set training.lr=1e-3`) for",
        "float keys (integer keys stay strict). A broken image is refused with the file named, never",
        "skipped; a relative task path is resolved against the working directory.",
        "",
        "| input | exit | message |",
        "| --- | --- | --- |",
        *rows,
        END,
    ])


def _with_section(readme: str, section: str) -> str:
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        return head + section + rest.split(END, 1)[1]
    tests = readme.index("\n## Tests\n")
    after = readme.find("\n## ", tests + 1)
    after = len(readme) if after < 0 else after
    return readme[:after].rstrip("\n") + "\n\n" + section + "\n" + readme[after:]


def test_readme_lists_the_bad_inputs(tmp_path_factory, monkeypatch, capsys):
    """The README section equals the table of the cases that pass (run here if not run above)."""
    for case in CASES:
        if case.id in RESULTS:
            continue
        base = tmp_path_factory.mktemp(case.id)
        folder, cache, temp = base / "work", base / "hf-datasets", base / "tmp"
        for d in (folder, cache, temp):
            d.mkdir()
        with monkeypatch.context() as patch:
            code, lines, left = run_case(case, folder, cache, temp, patch, capsys)
        if code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and case.expect in lines[0] and not left:
            RESULTS[case.id] = (code, _shown_message(lines[0], folder))
    missing = [c.id for c in CASES if c.id not in RESULTS and c.id not in LEAD_PENDING]
    assert not missing, f"cases that fail (see test_bad_input): {missing}"
    readme = README.read_text()
    wanted = _with_section(readme, render(RESULTS))
    if os.environ.get("UPDATE_README") == "1":
        README.write_text(wanted)
        return
    assert readme == wanted, "README.md's bad-inputs section is out of date; rerun with UPDATE_README=1"
