"""Gluon factories named by pipelines.yaml (`gluon: {factory: "factories:small_convnet"}`).

A factory is a plain function returning a Block; mxdeploy imports this module with the
pipelines file's folder on sys.path and calls the function with the source's `kwargs`.
`plain_mlp` and `untraceable_net` exist to show (and test) the two ways a Gluon model cannot
be deployed: it has no symbolic form at all, or its hybrid_forward cannot be traced.
"""
from mxnet import gluon
from mxnet.gluon import nn


class SmallConvNet(gluon.HybridBlock):
    """conv-bn-relu-pool, then a dense classifier: hybridizes and exports."""

    def __init__(self, classes=10, channels=8, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv = nn.Conv2D(channels, kernel_size=3, padding=1)
            self.bn = nn.BatchNorm()
            self.pool = nn.GlobalAvgPool2D()
            self.out = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        return self.out(self.pool(F.relu(self.bn(self.conv(x)))))


class TokenClassifier(gluon.HybridBlock):
    """Token ids (float32, as GluonNLP takes them) -> embedding -> mean over the sequence -> dense.

    For the typed-input examples: ids in [0, vocab), the sequence axis dynamic.
    """

    def __init__(self, vocab=100, units=16, classes=4, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.embed = nn.Embedding(vocab, units)
            self.out = nn.Dense(classes, flatten=False)

    def hybrid_forward(self, F, ids):
        return self.out(F.mean(self.embed(ids), axis=1))


class PlainMLP(gluon.Block):
    """An imperative Block: it runs in Gluon but has no graph to export."""

    def __init__(self, classes=10, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.hidden = nn.Dense(16, activation="relu")
            self.out = nn.Dense(classes)

    def forward(self, x):
        return self.out(self.hidden(x))


class UntraceableNet(gluon.HybridBlock):
    """A HybridBlock that reads values in hybrid_forward, which a symbolic trace cannot do."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.out = nn.Dense(4)

    def hybrid_forward(self, F, x):
        scale = float(x.asnumpy().max())
        return self.out(x) * scale


def small_convnet(classes=10, channels=8):
    return SmallConvNet(classes=classes, channels=channels)


def token_classifier(vocab=100, units=16, classes=4):
    return TokenClassifier(vocab=vocab, units=units, classes=classes)


def plain_mlp(classes=10):
    return PlainMLP(classes=classes)


def untraceable_net():
    return UntraceableNet()
