"""Accelerator errors (codes ACC1xx): what the server refuses and what the network does.

Errors travel as coded ERROR frames; the client rebuilds the subclass from the code with
`error_from_code`, so a caller catches the same class whether the server or the client
detected the problem. Codes are documented in docs/errors.md and never reused.
"""
from __future__ import annotations

from pipeline.core.errors import MxdeployError

# The Elastic Inference guide's own messages, quoted wherever the contract is enforced (the
# server, mx.eia(), the deploy stage, the check rules) so a migrating user recognises them.
MAX_ONE_DEVICE = "Maximum one EIA device can be attached to an instance"
TRAINING_MESSAGE = "for training cannot be set to true with EIA context"


class AcceleratorError(MxdeployError):
    """Any failure talking to or on the accelerator."""

    code = "ACC100"


class AcceleratorUnavailable(AcceleratorError):
    """Nothing answers at the address (connection refused, unreachable, connect timeout)."""

    code = "ACC101"


class AcceleratorTimeout(AcceleratorError):
    """The server accepted the request but did not answer within the request timeout."""

    code = "ACC102"


class ConnectionLost(AcceleratorError):
    """The connection closed mid-request (server killed or restarted)."""

    code = "ACC103"


class ProtocolError(AcceleratorError):
    """A frame that breaks the framing rules: bad magic, version, type, lengths or metadata."""

    code = "ACC104"


class FrameTooLarge(AcceleratorError):
    """A frame larger than the receiver's maximum frame size."""

    code = "ACC105"


class AuthenticationFailed(AcceleratorError):
    """A HELLO whose token does not match the server's."""

    code = "ACC106"


class NotAuthenticated(AcceleratorError):
    """A request sent before a successful HELLO."""

    code = "ACC107"


class AlreadyAttached(AcceleratorError):
    """A second accelerator attach from one client process (the guide's rule)."""

    code = "ACC108"


class UnknownModel(AcceleratorError):
    """A forward or unload for a model key this session has not loaded."""

    code = "ACC109"


class ModelTooLarge(AcceleratorError):
    """A model (at a shape) that cannot fit in this accelerator size at all."""

    code = "ACC110"


class AcceleratorMemoryFull(AcceleratorError):
    """A model that fits the size but not next to the models already loaded."""

    code = "ACC111"


class BadRequest(AcceleratorError):
    """A well-framed request with wrong content: missing inputs, wrong dtype, bad graph."""

    code = "ACC112"


class EngineError(AcceleratorError):
    """The serving engine failed on a request it accepted (MXNet or ONNX Runtime error)."""

    code = "ACC113"


class EngineUnavailable(AcceleratorError):
    """The requested serving engine cannot run on this installation."""

    code = "ACC114"


class UnsupportedDtype(AcceleratorError):
    """A tensor dtype outside the protocol's whitelist."""

    code = "ACC115"


ERROR_CLASSES: dict[str, type[AcceleratorError]] = {
    cls.code: cls for cls in (
        AcceleratorError, AcceleratorUnavailable, AcceleratorTimeout, ConnectionLost, ProtocolError,
        FrameTooLarge, AuthenticationFailed, NotAuthenticated, AlreadyAttached, UnknownModel,
        ModelTooLarge, AcceleratorMemoryFull, BadRequest, EngineError, EngineUnavailable, UnsupportedDtype)
}


def error_from_code(code: str, message: str, where: str = "", hint: str = "") -> AcceleratorError:
    """The error class for `code` (the base class for codes this client does not know)."""
    cls = ERROR_CLASSES.get(code, AcceleratorError)
    return cls(message, where=where, hint=hint, code=code if code.startswith("ACC") else "ACC100")


class EIAUsageError(AcceleratorError, ValueError):
    """A use of `mx.eia()` the contract forbids (training, several devices, GPU).

    Also a ValueError, with the guide's exact messages, so scripts written for Elastic
    Inference catch what they caught there.
    """

    code = "ACC116"


ERROR_CLASSES[EIAUsageError.code] = EIAUsageError
