"""mxdeploy: convert, check, optimize, deploy and verify MXNet models for inference."""

__version__ = "0.1.0"
