"""GluonNLP 0.10's zoo (`gluonnlp.model.get_model`): BERT-family encoders and LSTM language models.

GluonNLP downloads a vocabulary for every model (and its weights when `pretrained`). Here
nothing is downloaded: `pretrained` is off, `dataset_name` is unset, and the model gets a
synthetic vocabulary of the size its pretrained one has (`VOCAB_SIZES`; a `vocab_size` kwarg
sets another), which is all the network reads of a vocabulary (its embedding and decoder
sizes). Other kwargs (`num_layers` with `hparam_allow_override: true`, `use_pooler`, ...) pass
through to GluonNLP. The pretraining heads (`use_decoder`, `use_classifier`) default to off: the
decoder needs masked positions, which inference graphs do not take. The language models'
dropout rates (`dropout`, `drop_h`, `weight_drop`, ... in their hparams) default to 0: dropout is
the identity at inference, and GluonNLP's LSTM LMs call `nd.Dropout` in hybrid_forward, which a
hybridized (exported) block cannot run.

Inputs follow the block's own call signature, so the exported inputs data0, data1, ... are in
the model's order: token ids (float32 whole numbers in [0, vocab)), token types (in [0, the
model's type vocabulary)) and a valid length (in [1, seq]) for the encoders; for the language
models the (seq, batch) token ids and each begin state (`begin_state` flattened, batch on axis 1),
wrapped so the state list is plain inputs and outputs.
"""
from __future__ import annotations

import inspect
from collections import Counter

from pipeline.model.bundle import TensorSpec
from pipeline.model.zoos.base import Zoo, register_zoo
from pipeline.core.packages import importable

# Vocabulary sizes of the datasets GluonNLP 0.10 pairs each model with (its `dataset_name`
# default or documented pretrained set): book_corpus_wiki_en_uncased 30522,
# openwebtext_ccnews_stories_books_cased 50265, distil_book_corpus_wiki_en_uncased 30522,
# baidu_ernie_uncased 18000, wikitext-2 33278.
VOCAB_SIZES = {
    "bert_12_768_12": 30522, "bert_24_1024_16": 30522,
    "roberta_12_768_12": 50265, "roberta_24_1024_16": 50265,
    "distilbert_6_768_12": 30522, "ernie_12_768_12": 18000,
    "standard_lstm_lm_200": 33278, "standard_lstm_lm_650": 33278, "standard_lstm_lm_1500": 33278,
    "awd_lstm_lm_600": 33278, "awd_lstm_lm_1150": 33278,
}
HEADS_OFF = {"use_decoder": False, "use_classifier": False}  # pretraining heads, when the model has them
BATCH, SEQ = 2, 16  # the default declared shape (the BERT matrix cell)


def _vocab(size: int, encoder: bool):
    """A vocabulary of exactly `size` entries: GluonNLP's special tokens plus placeholders."""
    import gluonnlp

    cls = gluonnlp.vocab.BERTVocab if encoder else gluonnlp.Vocab
    specials = len(cls())
    return cls(Counter({f"tok{i}": 1 for i in range(size - specials)}))


def _flatten(nested) -> list:
    if isinstance(nested, (list, tuple)):
        return [leaf for item in nested for leaf in _flatten(item)]
    return [nested]


def _structure(nested):
    """The nesting of a state list with leaves replaced by None (to regroup flat inputs)."""
    return [_structure(x) for x in nested] if isinstance(nested, (list, tuple)) else None


def _regroup(structure, flat: list):
    if structure is None:
        return flat.pop(0)
    return [_regroup(s, flat) for s in structure]


def _state_wrapper(net, structure):
    """A HybridBlock taking (inputs, *states) and returning [output, *new states], flat."""
    from mxnet import gluon

    class FlatStates(gluon.HybridBlock):
        """An LSTM LM whose `begin_state` list is plain inputs (exportable as data1, data2, ...)."""

        def __init__(self):
            super().__init__(prefix="")
            self.net = net
            self.lm_structure = structure

        def hybrid_forward(self, F, inputs, *states):
            out, new_states = self.net(inputs, _regroup(self.lm_structure, list(states)))
            return tuple([out] + _flatten(new_states))

        def begin_state(self, *args, **kwargs):
            return self.net.begin_state(*args, **kwargs)

    return FlatStates()


@register_zoo
class GluonNLP(Zoo):
    name = "gluonnlp"
    summary = "gluonnlp.model (BERT, RoBERTa, DistilBERT, ERNIE, LSTM language models), synthetic vocabulary"

    @classmethod
    def is_available(cls) -> bool:
        return importable("gluonnlp")

    def names(self) -> tuple[str, ...]:
        return tuple(VOCAB_SIZES)

    def family(self, name: str) -> str:
        return "nlp"

    def _construct(self, name: str, kwargs: dict):
        """The uninitialized network (cheap: parameter shapes are known, nothing is allocated)."""
        import mxnet as mx
        import gluonnlp

        kwargs = dict(kwargs)
        size = int(kwargs.pop("vocab_size", VOCAB_SIZES[name]))
        ctor = getattr(gluonnlp.model, name)
        accepted = inspect.signature(ctor).parameters
        encoder = "use_pooler" in accepted or "output_attention" in accepted or "use_decoder" in accepted
        defaults = {k: v for k, v in HEADS_OFF.items() if k in accepted}
        hparams = getattr(gluonnlp.model.language_model, f"{name}_hparams", {})
        defaults.update({k: 0 for k in hparams if "drop" in k})  # see the module docstring
        with mx.name.NameManager():  # a fresh counter: param names do not depend on earlier blocks
            net, _ = ctor(**{**defaults, **kwargs, "pretrained": False, "dataset_name": None,
                             "vocab": _vocab(size, encoder), "root": "/nonexistent-no-downloads"})
        if hasattr(net, "begin_state") and "begin_state" in inspect.signature(net.hybrid_forward).parameters:
            import mxnet as mx

            structure = _structure(net.begin_state(batch_size=BATCH, func=mx.nd.zeros))
            net = _state_wrapper(net, structure)
        return net, size

    def build(self, name: str, kwargs: dict, seed: int):
        import mxnet as mx

        mx.random.seed(seed)
        net, _ = self._construct(name, kwargs)
        net.initialize(mx.init.Xavier(magnitude=2.0))
        return net

    def default_inputs(self, name: str, kwargs: dict | None = None) -> list[TensorSpec]:
        """Token ids, types and valid length (encoders) or (seq, batch) ids and begin states (LMs)."""
        import mxnet as mx

        net, size = self._construct(name, kwargs or {})
        ids = TensorSpec("data0", (BATCH, SEQ), "float32", range=(0, size), integer=True)
        if hasattr(net, "lm_structure"):
            states = _flatten(net.begin_state(batch_size=BATCH, func=mx.nd.zeros))
            return [TensorSpec("data0", (SEQ, BATCH), "float32", range=(0, size), integer=True, batch_axis=1)] + [
                TensorSpec(f"data{i + 1}", tuple(s.shape), "float32", range=(-1, 1), batch_axis=1)
                for i, s in enumerate(states)]
        specs = [ids]
        takes = list(inspect.signature(type(net).__call__).parameters)
        if "token_types" in takes:
            tables = [p.shape[0] for n, p in net.collect_params().items() if "token_type_embed" in n]
            count = tables[0] if tables else 2
            specs.append(TensorSpec(f"data{len(specs)}", (BATCH, SEQ), "float32", range=(0, count), integer=True))
        if "valid_length" in takes:
            specs.append(TensorSpec(f"data{len(specs)}", (BATCH,), "float32", range=(1, SEQ + 1), integer=True))
        return specs
