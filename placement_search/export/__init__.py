"""A search's best placement as a standard model folder, loadable with ``from_pretrained``.

``placement-search export NAME --out FOLDER`` (or :func:`export_search`) writes::

    config.json          format, placement, id2label / label2id, modality, preprocessing (the exact
                         tokenisation length or resize / normalise spec training used), backbone_source
                         (name, package + version or hub repo + revision, weights SHA-256) and the
                         search config
    model.safetensors    adapter and head weights (the backbone comes from its own source)
    tokenizer files      text backbones: the tokenizer's save_pretrained
    placement.txt        the placement's canonical text
    metrics.json         the trial's stored metrics
    README.md            a model card

:class:`PlacedModelForClassification` loads it (``from_pretrained`` of a folder or a hub repo id),
saves it again (``save_pretrained``), pushes it (``push_to_hub``) and classifies raw texts or
image files (``predict``); ``placement-search predict FOLDER INPUT...`` does the same from the
command line.

The package's names are importable from the top level (``from placement_search import
PlacedModelForClassification, export_search``), imported on first use: the CLI imports this
package to register its commands, which must not load torch.
"""
