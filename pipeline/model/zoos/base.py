"""The zoo contract: a named collection of model constructors that build random-weight blocks.

A `gluon: {model: NAME}` source, the CLI's MODEL argument and the zoo sweeps resolve NAME
through every registered zoo (MXNet's vision zoo, GluonCV, GluonNLP): nothing is downloaded,
`pretrained` flags are forced off, and the zoo that built a model is recorded in the bundle's
metadata. Each zoo also says which family a model belongs to (classification, detection, ...),
which picks verify's comparison mode.
"""
from __future__ import annotations

from typing import ClassVar

from pipeline.core.errors import ModelError
from pipeline.core.registry import Registry, did_you_mean
from pipeline.model.bundle import TensorSpec


class Zoo:
    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @classmethod
    def is_available(cls) -> bool:
        """False when the zoo's package is not installed (its names then resolve nowhere)."""
        return True

    def names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def build(self, name: str, kwargs: dict, seed: int):
        """A Gluon block with random weights, seeded; `kwargs` pass through to the constructor."""
        raise NotImplementedError

    def default_inputs(self, name: str, kwargs: dict | None = None) -> list[TensorSpec]:
        """The inputs a model takes when the pipeline declares none (`kwargs` as for build:
        an LSTM LM's begin-state shapes follow its num_layers and hidden size)."""
        raise NotImplementedError

    # Random-weight models of this zoo get the calibrated init (pipeline/model/calibrated_init.py).
    calibrated_init: bool = False

    def calibrate(self, name: str, block, inputs: list[TensorSpec], seed: int) -> dict | None:
        """Adjust a freshly built random-weight block on the declared inputs (never loaded weights);
        returns what was done, for the bundle's metadata, or None when the zoo does nothing."""
        if not self.calibrated_init:
            return None
        from pipeline.model.calibrated_init import calibrate

        return calibrate(block, inputs, seed)

    def family(self, name: str) -> str:
        """classification | detection | segmentation | pose | action | nlp."""
        return "classification"


ZOOS: Registry[type[Zoo]] = Registry("zoo")


def register_zoo(cls: type[Zoo]) -> type[Zoo]:
    return ZOOS.register(cls.name, cls)


def available_zoos() -> list[Zoo]:
    return [cls() for _, cls in ZOOS.items() if cls.is_available()]


def zoo_names() -> list[str]:
    """Every model name of every installed zoo, sorted."""
    return sorted({n for zoo in available_zoos() for n in zoo.names()})


def find_zoo(name: str) -> Zoo:
    """The zoo that has `name` (the first registered wins a name two zoos share)."""
    for zoo in available_zoos():
        if name in zoo.names():
            return zoo
    raise ModelError(f"unknown model zoo name '{name}'{did_you_mean(name, zoo_names())}",
                     hint="`pipeline stages` lists the zoos; names come from "
                          + ", ".join(cls.name for _, cls in ZOOS.items()))


def has_model(name: str) -> bool:
    return any(name in zoo.names() for zoo in available_zoos())
