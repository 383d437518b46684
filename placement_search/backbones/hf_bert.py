"""Hugging Face BERT-family encoders (BERT, RoBERTa, XLM-R, ELECTRA, MiniLM) as a residual stream.

These models are post-LN: every sub-layer ends with ``LayerNorm(x + f(x))``, so a point value is
the normalised stream the next sub-layer reads (DESIGN.md §2). We call the library's own modules:

    point 0      = model.embeddings(...)            (already LayerNorm'ed; ELECTRA: + embeddings_project)
    point 2k-1   = layer[k-1].attention(x, mask)    (self-attention + output dense + add + LayerNorm)
    point 2k     = layer[k-1].output(layer[k-1].intermediate(x), x)   (MLP + add + LayerNorm)

RoBERTa (and XLM-R) differ from BERT in two ways the wrapper leaves to the library: position ids
are computed by ``model.embeddings`` from ``input_ids`` (padding tokens get ``padding_idx``, real
tokens count up from ``padding_idx + 1``), so the embeddings are called with the token ids, never
with precomputed positions; and ``type_vocab_size`` is 1, so token type ids are dropped (the
embeddings use their all-zero buffer) rather than passed, since a BERT-style pair encoding would
index past the one row. ``input_spec()["max_length"]`` is the number of positions the model can
actually take: ``max_position_embeddings`` for BERT, minus ``padding_idx + 1`` for RoBERTa (514 -> 512).

The attention mask is built with ``transformers.masking_utils.create_bidirectional_mask`` (what
``BertModel.forward`` itself does in transformers 5), so it has the right form for whatever
``config._attn_implementation`` the model uses (eager: additive float mask; sdpa: boolean mask, or
``None`` when nothing is padded; flex: a BlockMask).
"""

from __future__ import annotations

import string
from typing import Any

import torch
from torch import nn

from placement_search.backbones.base import Backbone, StreamContext
from placement_search.errors import PlacementSearchError


def is_bert_family(model: nn.Module) -> bool:
    """True if ``model`` has the BertModel layout this wrapper relies on (duck-typed, not by class)."""
    encoder = getattr(model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if getattr(model, "embeddings", None) is None or not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return False
    return all(
        hasattr(layer, "attention") and hasattr(layer, "intermediate") and hasattr(layer, "output")
        and hasattr(layer.output, "LayerNorm")
        for layer in layers
    )


class HFBertBackbone(Backbone):
    """A frozen BERT-family encoder (post-LN); its final norm is the identity."""

    modality = "text"
    norm_style = "post-ln"

    def __init__(self, model: nn.Module, tokenizer: Any = None, pooling: str = "mean") -> None:
        super().__init__()
        if not is_bert_family(model):
            raise PlacementSearchError(
                f"{type(model).__name__} is not a BERT-family encoder (needs embeddings and "
                "encoder.layer[k].attention/.intermediate/.output)"
            )
        if getattr(model.config, "is_decoder", False):
            raise PlacementSearchError(
                f"{type(model).__name__} is configured as a decoder (causal attention); use an encoder checkpoint"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.hidden_size = int(model.config.hidden_size)
        self.num_blocks = len(model.encoder.layer)
        self.pooling = pooling
        self.type_vocab_size = int(getattr(model.config, "type_vocab_size", 2) or 1)

    def max_positions(self) -> int | None:
        """How many tokens one sequence may have: the position table's size, less the rows
        RoBERTa-style embeddings reserve below ``padding_idx + 1``."""
        total = getattr(self.model.config, "max_position_embeddings", None)
        if total is None:
            return None
        embeddings = self.model.embeddings
        position_table = getattr(embeddings, "position_embeddings", None)
        padding_idx = getattr(position_table, "padding_idx", None)
        if padding_idx is None:  # BERT: positions 0..T-1
            return int(total)
        return int(total) - int(padding_idx) - 1  # RoBERTa: positions padding_idx+1 .. padding_idx+T

    def embed(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, StreamContext]:
        from transformers.masking_utils import create_bidirectional_mask

        input_ids = inputs["input_ids"]
        attention_mask = inputs.get("attention_mask")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # No position_ids: the embeddings derive them from input_ids (BERT: 0..T-1; RoBERTa: from
        # padding_idx + 1 over the non-padding tokens), exactly as the model's own forward does.
        kwargs = {"input_ids": input_ids}
        if inputs.get("token_type_ids") is not None and self.type_vocab_size > 1:
            kwargs["token_type_ids"] = inputs["token_type_ids"]
        x = self.model.embeddings(**kwargs)
        project = getattr(self.model, "embeddings_project", None)  # ELECTRA: embedding_size != hidden_size
        if project is not None:
            x = project(x)
        # The same call BertModel.forward makes, so the mask matches config._attn_implementation.
        mask = create_bidirectional_mask(config=self.model.config, inputs_embeds=x, attention_mask=attention_mask)
        return x, StreamContext(token_mask=attention_mask.bool(), attention=mask)

    def sublayer(self, index: int, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        layer = self.model.encoder.layer[(index - 1) // 2]
        if index % 2 == 1:
            out = layer.attention(x, attention_mask=ctx.attention)
            return out[0] if isinstance(out, tuple) else out
        return layer.output(layer.intermediate(x), x)

    def input_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"tokenizer": self.tokenizer}
        limit = self.max_positions()
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 1_000_000:
            limit = tokenizer_limit if limit is None else min(limit, tokenizer_limit)
        if limit is not None:
            spec["max_length"] = limit
        return spec


# --- tiny random-init model for tests -------------------------------------------------------------

#: a few frequent words so tiny-bert sequences are not purely character-level
_TINY_WORDS = (
    "the of and to a in is it you that he was for on are with as his they be at one have this from "
    "or had by not word but what some we can out other were all there when up use your how said an "
    "each she which do their time if will way about many then them write would like so these her "
    "long make thing see him two has look more day could go come did number sound no most people "
    "my over know water than call first who may down side been now find where why name city country"
).split()


def tiny_tokenizer(model_max_length: int = 128):
    """A deterministic WordPiece tokenizer built in code: specials, frequent words, characters.

    Every ASCII text tokenizes without [UNK] (words fall back to characters), and it behaves like a
    BERT tokenizer (lower-casing, ``[CLS] a [SEP] b [SEP]``, token_type_ids, padding with id 0).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.digits + string.punctuation
    tokens = specials + list(chars) + ["##" + c for c in chars]
    tokens += [w for w in _TINY_WORDS if w not in tokens]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def tiny_bert_model() -> nn.Module:
    """A 2-layer, d=32 BertModel from a config (no files); seed the RNG around the call."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=2,
        pad_token_id=0,
    )
    return BertModel(config, add_pooling_layer=False)


#: RoBERTa's special tokens, in roberta-base's id order (<s>=0, <pad>=1, </s>=2, <unk>=3)
_ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def tiny_roberta_tokenizer(model_max_length: int = 128):
    """A deterministic byte-level BPE tokenizer built in code, shaped like roberta-base's.

    Its merges are learnt (in milliseconds, deterministically) from tiny-bert's frequent words over
    the 256 byte symbols, so every text tokenizes without ``<unk>``. Like RoBERTa's tokenizer it
    numbers ``<s> <pad> </s> <unk>`` 0..3 (``<pad>`` = 1 is the model's padding_idx), frames
    ``<s> A </s>`` / ``<s> A </s></s> B </s>`` and returns no token_type_ids.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        min_frequency=1,
        show_progress=False,
        special_tokens=list(_ROBERTA_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    # each word both after a space ("Ġthe") and at the start of a text ("the")
    tok.train_from_iterator([" ".join(_TINY_WORDS), "\n".join(_TINY_WORDS)], trainer)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")), trim_offsets=True, add_prefix_space=False
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def tiny_roberta_model() -> nn.Module:
    """A 2-layer, d=32 RobertaModel from a config (no files); seed the RNG around the call.

    RoBERTa's conventions: pad_token_id 1 is the position padding_idx, so max_position_embeddings
    is 128 + 2 (positions start at 2), and there is a single token type.
    """
    from transformers import RobertaConfig, RobertaModel

    config = RobertaConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128 + 2,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    return RobertaModel(config, add_pooling_layer=False)
