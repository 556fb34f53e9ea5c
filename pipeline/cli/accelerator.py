"""`pipeline accelerator serve`: run the accelerator server in the foreground.

Loopback only unless `--allow-remote`: the protocol authenticates with a shared token but does
not encrypt, so on a network anyone on the path could read tensors and the token; serving
beyond the host is a deliberate choice for a trusted network, and then a token is required.

Also runnable as `python -m pipeline.cli.accelerator serve ...`, which the embedded
accelerator uses to start its child process (with `--token-file -` and `--exit-with-parent`).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from pipeline.core.errors import MxdeployError, UsageError
from pipeline.targets.sizes import ACCELERATOR_SIZES

HELP = "run the accelerator server (an Elastic Inference size on this host)"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="accelerator_action", metavar="ACTION")
    serve = sub.add_parser("serve", help="serve models over TCP within a size's memory",
                           description="serve models over TCP within a size's memory")
    serve.add_argument("--size", required=True, choices=list(ACCELERATOR_SIZES), help="accelerator size")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port, printed)")
    serve.add_argument("--engine", default="mxnet", choices=["mxnet", "onnxruntime"], help="serving engine")
    serve.add_argument("--token-file", metavar="F",
                       help="file holding the shared token ('-': first line of stdin); clients must present it")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a non-loopback --host (unencrypted: trusted networks only; needs --token-file)")
    serve.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)


def read_token(path: str | None) -> str:
    if path is None:
        return ""
    try:
        text = sys.stdin.readline() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise UsageError(f"cannot read the token file ({exc.strerror})", where=path,
                         hint="write the token into a file readable only by you") from None
    token = text.strip()
    if not token:
        raise UsageError("the token file is empty", where=path, hint="put a random token in it")
    return token


def _exit_when_stdin_closes() -> None:
    """The embedded server's parent keeps our stdin open; EOF means it is gone, even after kill -9."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


def main(args) -> int:
    from pipeline.accelerator.server import AcceleratorServer, is_loopback

    if getattr(args, "accelerator_action", None) != "serve":
        raise UsageError("no action given", where="pipeline accelerator", hint="use 'pipeline accelerator serve'")
    if args.allow_remote and not is_loopback(args.host) and not args.token_file:
        raise UsageError("--allow-remote needs --token-file", where="--token-file",
                         hint="a server reachable from the network must require a token")
    token = read_token(args.token_file)
    server = AcceleratorServer(args.size, args.host, args.port, engine=args.engine, token=token,
                               allow_remote=args.allow_remote)
    host, port = server.address
    if not token:
        print("warning: no --token-file: any local process can use this accelerator", file=sys.stderr)
    print(f"mxdeploy accelerator {args.size} ({args.engine}) listening on {host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.exit_with_parent:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _standalone(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pipeline accelerator", description=HELP)
    add_arguments(parser)
    try:
        return main(parser.parse_args(argv))
    except MxdeployError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_standalone(sys.argv[1:]))
