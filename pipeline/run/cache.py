"""The stage cache: a finished stage's folder, stored under a content hash of what made it.

A re-run (or a run resumed after kill -9) restores every stage whose key it has already
seen instead of recomputing it. The key (`stage_key`) is the sha256 of a JSON document of:

- the stage name, its params (`pipeline.core.paramspec.to_plain`), `pipeline.__version__`, the
  sha256 of the tool's own source (`tool_digest`: the version string never changed while the
  code did, so a stage computed by older code was replayed), and the installed version of every
  runtime a stage may touch (MXNet, ONNX, ONNX Runtime, OpenVINO: a newer ONNX Runtime may
  fold, fuse or refuse differently, so its results are not the old one's);
- for a host-dependent stage (`Stage.host_dependent`: a measured latency, a bf16 or int8 choice,
  `target: auto`, tune), the host CPU's model and the flags that decide reduced-precision and
  vector speed (`pipeline.precision.cpuflags.host_fingerprint`): the Dask executor shares one
  cache between hosts, and a choice made on an AMX host must not be replayed on an AVX2 one;
- the input bundle's content: the canonical JSON of its `bundle.json`, which records the
  sha256 of the symbol and params files plus the inputs, outputs, metadata and history;
- the pipeline's declared inputs, its settings (the accelerator address), the planned stages
  with their params (the check stage reads them: a deploy asking for training) and `config_dir`
  (stages resolve paths against it, and the gluon source records it for its reference);
- the stage folder relative to the run dir (`cell/NN-stage`): stages record artifacts in the
  bundle's metadata by run-dir-relative paths (the gluon reference's params), so an entry is
  only valid at the place it was made;
- for source stages, the bytes of the files their params name (`source_files`).

Entries live in `ROOT/v1/entries/KK/KEY/` (the stage folder plus `entry.json`, which lists
each file's sha256). They are built in `ROOT/v1/tmp/` and published by one `rename` of the
directory, so a reader sees no entry or a whole one; two writers of one key race for the
rename and the loser discards its copy. A hit re-hashes every file before use and discards
an entry that does not match (a half-copied, edited or truncated file), so a damaged entry
costs a recomputation, never a wrong result. Files are hard-linked where the filesystem
allows: stages write through pipeline/core/atomic.py (a new inode), so a linked file is never
edited in place.

The cache is bounded (`max_bytes`, default `DEFAULT_MAX_GB` or `$MXDEPLOY_CACHE_MAX_GB`):
`prune` evicts the least recently used entries (a hit touches `entry.json`) until the entries
fit. Without a bound a zoo sweep filled the disk (66 GB) and the next run failed to start.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import pipeline
from pipeline.core import atomic
from pipeline.model.bundle import BUNDLE_FILE, sha256_file
from pipeline.core.paramspec import to_plain
from pipeline.precision import cpuflags

LAYOUT = "v1"
ENTRY_FILE = "entry.json"
CACHE_ENV = "MXDEPLOY_CACHE_DIR"
MAX_GB_ENV = "MXDEPLOY_CACHE_MAX_GB"
DEFAULT_MAX_GB = 10.0
STALE_TEMP_SECONDS = 24 * 3600
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def default_cache_dir() -> Path:
    """`$MXDEPLOY_CACHE_DIR`, else `$XDG_CACHE_HOME/mxdeploy` (`~/.cache/mxdeploy`).

    Outside any repository, so nothing has to be ignored, and shared by every project of the
    user: keys hold config_dir and file contents, so sharing never mixes two projects' results.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mxdeploy"


def default_max_gb() -> float:
    """`$MXDEPLOY_CACHE_MAX_GB` when it is a positive number, else `DEFAULT_MAX_GB`."""
    try:
        value = float(os.environ.get(MAX_GB_ENV, ""))
    except ValueError:
        return DEFAULT_MAX_GB
    return value if value > 0 else DEFAULT_MAX_GB


def bundle_digest(bundle_dir: Path) -> str:
    """The content hash of a saved bundle: its bundle.json, which holds the files' sha256."""
    manifest = json.loads((Path(bundle_dir) / BUNDLE_FILE).read_text("utf-8"))
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _mxnet_version() -> str:
    try:
        return importlib_metadata.version("mxnet")
    except importlib_metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=None)
def tool_digest(roots: tuple[Path, ...] | None = None) -> str:
    """sha256 of every .py file of the engine and the stages (their paths and bytes).

    Any edit of the tool's code is a new key: cheap (a few ms once per process) and never
    wrong, where a hand-bumped version was forgotten. Plugin stages are not hashed (their
    module is the user's: bump a param to force a recomputation).
    """
    if roots is None:  # the stages package is located, not imported: the engine never imports it here
        found = importlib.util.find_spec("stages")
        stage_root = [Path(found.origin).parent] if found is not None and found.origin else []
        roots = (Path(pipeline.__file__).parent, *stage_root)
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def runtime_versions() -> dict[str, str]:
    """{runtime: installed version ('' when absent)} for every runtime a stage may call."""
    from pipeline.core.runtime_errors import RUNTIMES, runtime_version

    return {name: runtime_version(name) for name in RUNTIMES}


def _factory_source(spec: str, config_dir: Path) -> Path | None:
    """The source file of `pkg.module` in `pkg.module:callable`, found the way it is imported."""
    module = spec.split(":", 1)[0]
    candidate = config_dir.joinpath(*module.split("."))
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path
    sys.path.insert(0, str(config_dir))
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    finally:
        sys.path.remove(str(config_dir))
    origin = getattr(found, "origin", None)
    return Path(origin) if origin and Path(origin).is_file() else None


def _files_named_by(value: str, config_dir: Path) -> list[Path]:
    """Files a string param can name: a file, a folder's files, a checkpoint prefix's files."""
    if _FACTORY.match(value):
        source = _factory_source(value, config_dir)
        return [source] if source else []
    try:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else config_dir / path
        if path.is_file():
            return [path]
        if path.is_dir():
            return sorted(p for p in path.rglob("*") if p.is_file())
        if path.parent.is_dir():  # a checkpoint prefix: PREFIX-symbol.json, PREFIX-0000.params
            return sorted(p for p in path.parent.glob(f"{glob_escape(path.name)}-*") if p.is_file())
    except (OSError, ValueError):  # not a usable path (too long, NUL byte): it names no file
        return []
    return []


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def source_files(params, config_dir: Path) -> dict[str, str]:
    """{param path + file name: sha256} for every file the params' strings name.

    Covers model files, params files, checkpoint prefixes and a gluon factory's module source
    (only that module: what it imports in turn is not hashed; bump a param to force).
    """
    out: dict[str, str] = {}

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
        elif isinstance(value, str) and value:
            for path in _files_named_by(value, config_dir):
                out[f"{where}:{path.name}"] = sha256_file(path)

    walk(to_plain(params), "params")
    return out


def stage_key(*, stage: str, kind: str, params, input_bundle_dir: Path | None, inputs, settings: dict,
              config_dir: Path, location: str, planned=(), host_dependent: bool = False) -> tuple[str, dict]:
    """(key, the JSON material it hashes); see the module docstring for what goes in and why."""
    material = {
        "layout": LAYOUT,
        "tool": pipeline.__version__,
        "tool_source": tool_digest(),
        "mxnet": _mxnet_version(),
        "runtimes": runtime_versions(),
        "host": cpuflags.host_fingerprint() if host_dependent else None,
        "stage": stage,
        "params": to_plain(params),
        "input": bundle_digest(input_bundle_dir) if input_bundle_dir is not None else None,
        "inputs": [spec.to_dict() for spec in inputs],
        "settings": settings,
        "config_dir": str(Path(config_dir).resolve()),
        "location": location,
        "planned": [[name, to_plain(p)] for name, p in planned],
        "files": source_files(params, Path(config_dir)) if kind == "source" else {},
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), material


@dataclass(frozen=True)
class Entry:
    """A verified cache entry: its folder and the stage report it recorded."""

    path: Path
    report: dict
    has_bundle: bool
    files: dict


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stage_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


class StageCache:
    """Lookup, restore and store of stage folders under `root`.

    `read=False` (`--no-cache`) recomputes every stage and replaces the entries it writes.
    """

    def __init__(self, root: str | Path, *, read: bool = True):
        self.root = Path(root).expanduser().resolve()
        self.read = read
        self.entries = self.root / LAYOUT / "entries"
        self.tmp = self.root / LAYOUT / "tmp"

    def entry_path(self, key: str) -> Path:
        return self.entries / key[:2] / key

    # -- reading ----------------------------------------------------------------------------
    def lookup(self, key: str) -> Entry | None:
        """The entry for `key` if present and every file matches its recorded sha256."""
        if not self.read:
            return None
        path = self.entry_path(key)
        try:
            data = json.loads((path / ENTRY_FILE).read_text("utf-8"))
        except FileNotFoundError:
            if path.exists():  # a folder without entry.json was never published by us: discard
                self._discard(path)
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            self._discard(path)
            return None
        try:
            ok = data.get("key") == key and all(
                sha256_file(path / name) == digest for name, digest in data["files"].items())
        except (OSError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            self._discard(path)
            return None
        with contextlib.suppress(OSError):  # recency for `prune`: a used entry is kept longest
            os.utime(path / ENTRY_FILE)
        return Entry(path, data["report"], bool(data.get("has_bundle")), data["files"])

    def restore(self, entry: Entry, stage_dir: Path) -> bool:
        """Link the entry's files into an empty `stage_dir`; False if the entry vanished meanwhile."""
        try:
            for name in entry.files:
                _link_or_copy(entry.path / name, stage_dir / name)
        except FileNotFoundError:  # discarded by a concurrent --no-cache writer: recompute
            shutil.rmtree(stage_dir, ignore_errors=True)
            stage_dir.mkdir(parents=True, exist_ok=True)
            return False
        return True

    # -- writing ----------------------------------------------------------------------------
    def store(self, key: str, material: dict, stage_dir: Path, report: dict, *, has_bundle: bool) -> Path:
        """Publish `stage_dir` as the entry for `key` (atomically); returns the entry folder."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / _temp_name(key)
        tmp.mkdir()
        try:
            files = {}
            for name in _stage_files(stage_dir):
                _link_or_copy(stage_dir / name, tmp / name)
                files[name] = sha256_file(tmp / name)
            atomic.write_json(tmp / ENTRY_FILE, {
                "key": key, "files": files, "has_bundle": has_bundle, "report": report, "material": material,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            final = self.entry_path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            if not self.read and final.exists():
                self._discard(final)
            try:
                os.rename(tmp, final)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another writer published the same key first
            return final
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _discard(self, path: Path) -> None:
        """Remove an entry: first renamed out of `entries/` so no reader can pick it up half-deleted."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        trash = self.tmp / _temp_name("discard")
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def prune(self, max_bytes: int) -> tuple[int, int]:
        """Evict least recently used entries until the rest hold at most `max_bytes`.

        Returns (entries removed, bytes they held). Sizes count every file of an entry, also
        the ones hard-linked into a run folder, so the bound is conservative.
        """
        entries = []
        for path in self.entries.glob("*/*") if self.entries.is_dir() else ():
            with contextlib.suppress(OSError):
                used = (path / ENTRY_FILE).stat().st_mtime
                size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                entries.append((used, size, path))
        total = sum(size for _, size, _ in entries)
        removed = freed = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= max_bytes:
                break
            self._discard(path)
            total -= size
            removed, freed = removed + 1, freed + size
        return removed, freed

    def sweep(self) -> int:
        """Delete temp folders left by killed writers (dead pid on this host, or a day old)."""
        if not self.tmp.is_dir():
            return 0
        host, removed = socket.gethostname(), 0
        for path in self.tmp.iterdir():
            parts = path.name.split("@")
            dead = len(parts) == 4 and parts[1] == host and parts[2].isdigit() and not _pid_alive(int(parts[2]))
            with contextlib.suppress(FileNotFoundError):
                old = time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS
                if dead or old:
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        return removed


def _temp_name(prefix: str) -> str:
    """`PREFIX@HOST@PID@RANDOM`: `sweep` can tell a dead writer's folder from a live one's."""
    return f"{prefix}@{socket.gethostname()}@{os.getpid()}@{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
