"""Safe YAML loading that keeps where every key and value came from.

PyYAML's composer builds nodes without constructing Python objects, so no tag is ever
executed; we then convert nodes ourselves, refusing non-standard tags (`!!python/...`),
duplicate keys (PyYAML silently keeps the last) and alias expansion past a bound (the
"billion laughs" document), and record a (line, col) for every path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.core.errors import ConfigError, ConfigIssue

MAX_NODES = 100_000
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_BYTES = 4 << 20  # a pipelines file is written by hand; megabytes of it are a mistake or an attack
MAX_DEPTH = 64  # nesting deeper than this is no pipeline (and would exhaust Python's recursion)
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass
class Located:
    """A plain Python document plus the source position of each path inside it."""

    data: object
    file: str
    values: dict = field(default_factory=dict)  # path tuple -> (line, col) of the value
    keys: dict = field(default_factory=dict)  # path tuple -> (line, col) of the key

    def where(self, path: tuple, *, key: bool = False) -> str:
        """`FILE:LINE:COL` of the closest known position to `path`."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                line, col = table[probe]
                return f"{self.file}:{line}:{col}"
            if probe in self.values:
                line, col = self.values[probe]
                return f"{self.file}:{line}:{col}"
            probe = probe[:-1]
        line, col = self.values.get((), (1, 1))
        return f"{self.file}:{line}:{col}"


def _pos(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_located(path: Path, display: str | None = None) -> Located:
    """Parse `path` into a Located document or raise ConfigError with every problem found."""
    display = display or str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise ConfigError([ConfigIssue(f"the file is {size} bytes; a pipelines file is at most {MAX_BYTES}",
                                           where=f"{display}:1:1", code="CFG015",
                                           hint="split it, or check that this is the pipelines file")])
        raw = Path(path).read_bytes()
        _check_control_bytes(raw, display)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("file not found", where=f"{display}:1:1", code="CFG013",
                                       hint="check the path to the pipelines file")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(f"not UTF-8 text (byte {exc.start})", where=f"{display}:1:1",
                                       code="CFG013", hint="save the file as UTF-8")]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(f"cannot read the file: {exc.strerror}", where=f"{display}:1:1",
                                       code="CFG013")]) from None
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([ConfigIssue(f"YAML syntax error: {problem}", where=f"{display}:{line}:{col}",
                                       code="CFG001", hint="fix the indentation or quoting at that place")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (after decoding)
        line, col = _line_col(text, exc.position)
        raise ConfigError([ConfigIssue(f"YAML error: character {exc.character!r} is not allowed",
                                       where=f"{display}:{line}:{col}", code="CFG015",
                                       hint="remove the control character")]) from None
    except yaml.YAMLError as exc:
        from pipeline.core.runtime_errors import reason_line

        first = reason_line(str(exc).splitlines()[0] if str(exc).strip() else "") or "invalid YAML"
        raise ConfigError([ConfigIssue(f"YAML error: {first}", where=f"{display}:1:1", code="CFG001")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue("the document is nested too deeply", where=f"{display}:1:1", code="CFG003",
                                       hint=f"a pipelines file nests a few levels, never {MAX_DEPTH}")]) from None
    if len(documents) != 1 or documents[0] is None:
        raise ConfigError([ConfigIssue(f"expected exactly one YAML document, found {len(documents)}",
                                       where=f"{display}:1:1", code="CFG013",
                                       hint="put all pipelines in one document (no '---' separators)")])
    located = Located(None, display)
    issues: list[ConfigIssue] = []
    budget = [MAX_NODES]
    located.data = _convert(documents[0], (), located, issues, budget)
    if issues:
        raise ConfigError(issues)
    return located


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _check_control_bytes(raw: bytes, display: str) -> None:
    """NUL and other C0 control bytes (but tab, LF, CR): a binary file, or a damaged one."""
    match = _CONTROL.search(raw)
    if match:
        bad = match.start()
        line = raw.count(b"\n", 0, bad) + 1
        col = bad - (raw.rfind(b"\n", 0, bad) + 1) + 1
        what = "a NUL byte" if raw[bad] == 0 else f"control byte 0x{raw[bad]:02x}"
        raise ConfigError([ConfigIssue(f"{what}: this is not a text file (or it is damaged)",
                                       where=f"{display}:{line}:{col}", code="CFG015",
                                       hint="give the YAML pipelines file, saved as plain UTF-8 text")])


def _convert(node, path: tuple, located: Located, issues: list, budget: list):
    if len(path) > MAX_DEPTH:
        if not any(i.code == "CFG003" and "nested" in i.message for i in issues):
            issues.append(ConfigIssue(f"nested more than {MAX_DEPTH} levels deep", where=located.where(path[:1]),
                                      code="CFG003", hint="a pipelines file nests a few levels"))
        return None
    budget[0] -= 1
    if budget[0] < 0:
        if budget[0] == -1:
            issues.append(ConfigIssue(f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                                      where=located.where(path), code="CFG003",
                                      hint="remove the repeated aliases"))
        return None
    located.values.setdefault(path, _pos(node))
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            return _bad_tag(node, path, located, issues)
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                issues.append(ConfigIssue("mapping keys must be plain scalars", where=f"{located.file}:"
                                          f"{_pos(key_node)[0]}:{_pos(key_node)[1]}", code="CFG003"))
                continue
            key = yaml.SafeLoader.construct_scalar(yaml.SafeLoader(""), key_node)
            if key == "<<":
                issues.append(ConfigIssue("merge keys ('<<') are not supported",
                                          where=f"{located.file}:{_pos(key_node)[0]}:{_pos(key_node)[1]}",
                                          code="CFG003", hint="use the top-level 'defaults:' mapping instead"))
                continue
            if key in out:
                first = located.keys.get(path + (key,))
                issues.append(ConfigIssue(f"duplicate key '{key}'" + (f" (first at line {first[0]})" if first else ""),
                                          where=f"{located.file}:{_pos(key_node)[0]}:{_pos(key_node)[1]}",
                                          code="CFG002", hint="remove one of them"))
                continue
            located.keys[path + (key,)] = _pos(key_node)
            out[key] = _convert(value_node, path + (key,), located, issues, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            return _bad_tag(node, path, located, issues)
        return [_convert(item, path + (i,), located, issues, budget) for i, item in enumerate(node.value)]
    if node.tag not in _PLAIN_TAGS:
        return _bad_tag(node, path, located, issues)
    return _scalar(node)


def _scalar(node):
    constructor = yaml.SafeLoader("")
    return constructor.construct_object(node)


def _bad_tag(node, path, located, issues):
    issues.append(ConfigIssue(f"tag '{node.tag}' is not allowed", where=located.where(path), code="CFG003",
                              hint="use plain YAML values; nothing in the config is ever executed"))
    return None
