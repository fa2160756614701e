"""Reading and writing the files a user hands in or asks for, safely, for every layer above.

- reads check existence, type (a directory is not a file) and size before a byte is read;
- YAML is parsed with a SafeLoader that refuses aliases ("billion laughs") and deep nesting while composing;
- error messages echo values cut to a bounded length (``short``);
- output paths are checked writable before any work starts; writes are atomic (a unique temporary file in the
  target directory, then os.replace), and a finished result whose write fails goes to a fallback file instead.

Stdlib and yaml only (the ground floor).
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

from knowledge.errors import AdvisorError
from knowledge.limits import input_limits


def short(value: Any, limit: Optional[int] = None) -> str:
    """repr(value), cut to the configured echo length with the full length noted (never the whole of a huge value)."""
    limit = limit or input_limits().max_value_echo_chars
    if isinstance(value, (str, bytes)) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # repr of a 50 MB string would itself cost 50 MB
        text = repr(value)
        return f"{text[:limit]}… (truncated)"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{int(n_bytes):,} bytes"


def user_file_size(path: str | Path, what: str, max_bytes: int, error: type[AdvisorError]) -> int:
    """The size of a user's file in bytes, or ``error`` saying it is missing, a directory or too big (nothing read)."""
    shown = short(str(path))
    target = Path(path)
    try:
        if target.is_dir():
            raise error(f"{what} {shown} is a directory; expected a file.")
        if not target.exists():
            raise error(f"{what} {shown} does not exist" + ("." if target.parent.is_dir() else
                                                             f" (its directory {short(str(target.parent))} does not exist)."))
        if not target.is_file():
            raise error(f"{what} {shown} is not a regular file (a device, pipe or socket); expected a file.")
        size = target.stat().st_size
    except (OSError, ValueError) as problem:  # e.g. a name too long, or with a NUL byte
        raise error(f"{what} {shown} cannot be used: {getattr(problem, 'strerror', None) or problem}.") from None
    if size > max_bytes:
        raise error(f"{what} {shown} is {_mib(size)}; the limit is {_mib(max_bytes)} (knowledge/limits.yaml).")
    return size


def read_user_bytes(path: str | Path, what: str, max_bytes: int, error: type[AdvisorError]) -> bytes:
    """The bytes of a user's file, or ``error`` saying it is missing, a directory, too big or unreadable."""
    user_file_size(path, what, max_bytes, error)
    shown = short(str(path))
    target = Path(path)
    try:
        with open(target, "rb") as handle:
            return handle.read(max_bytes + 1)[:max_bytes]
    except OSError as problem:
        raise error(f"{what} {shown} could not be read: {problem.strerror or problem}.") from None


class UserYamlError(yaml.YAMLError):
    """A YAML document that breaks a limit (aliases, depth)."""


class LimitedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses more than ``max_aliases`` aliases and nesting deeper than ``max_depth``.

    Checked while composing, so a "billion laughs" document fails at its first extra alias, before anything grows.
    """

    max_aliases = 0
    max_depth = 20

    def __init__(self, stream):
        super().__init__(stream)
        self._n_aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._n_aliases += 1
            if self._n_aliases > self.max_aliases:
                mark = self.peek_event().start_mark
                raise UserYamlError(f"YAML aliases (*name) are not accepted (limit {self.max_aliases}); "
                                    f"found one at line {mark.line + 1}, column {mark.column + 1}. Write the values out.")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise UserYamlError(f"the document nests deeper than {self.max_depth} levels "
                                    f"(line {mark.line + 1}, column {mark.column + 1}).")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_user_yaml(text: str, where: str, error: type[AdvisorError]) -> Any:
    """Parse YAML/JSON text from a user within the alias and depth limits; ``error`` names ``where`` on failure."""
    limits = input_limits()
    loader_class = type("Loader", (LimitedSafeLoader,), {"max_aliases": limits.yaml_max_aliases,
                                                          "max_depth": limits.yaml_max_depth})
    loader = None
    try:
        loader = loader_class(text)  # the reader refuses control characters here, before parsing
        return loader.get_single_data()
    except UserYamlError as problem:
        raise error(f"{where} was refused: {problem}") from None
    except yaml.YAMLError as problem:
        detail = " ".join(str(problem).replace('in "<unicode string>", ', "").split())
        raise error(f"{where} is not valid YAML/JSON: {detail[:300]}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as problem:  # e.g. a date like 2024-13-45
        raise error(f"{where} holds a value YAML cannot read: {short(str(problem))}") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_user_json(text: str, where: str, error: type[AdvisorError], expected: str = "") -> Any:
    """Parse JSON text from a user; ``error`` names ``where``, the problem and what was ``expected``."""
    import json

    tail = f"; {expected}" if expected else ""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{where}: the JSON nests too deeply{tail}.") from None
    except ValueError as problem:
        raise error(f"{where} is not valid JSON ({short(str(problem), 200)}){tail}.") from None


# Byte-order marks, longest first (the UTF-32 little-endian mark starts with the UTF-16 one).
_BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def bom_encoding(data: bytes) -> Optional[str]:
    """The codec a byte-order mark at the start of ``data`` names (it strips the mark when decoding), or None."""
    return next((encoding for bom, encoding in _BYTE_ORDER_MARKS if data.startswith(bom)), None)


def decode_user_text(data: bytes, what: str, error: type[AdvisorError]) -> str:
    """UTF-8 (with or without a byte-order mark) or UTF-16/32 with a byte-order mark."""
    encoding = bom_encoding(data) or "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as problem:
        raise error(f"{what} is not valid {encoding.upper()} text (byte {problem.start}: {short(data[problem.start:problem.start + 8])}).") from None


def find_non_finite(value: Any, where: str = "") -> Optional[str]:
    """The path of the first NaN or infinite float inside nested dicts/lists, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (where or "(value)")
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = find_non_finite(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _probe_directory(directory: Path) -> Optional[str]:
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tuning-advisor-check-"):
            pass
    except OSError as problem:
        return f"the directory {short(str(directory))} cannot be written to ({problem.strerror or problem})"
    return None


def output_file_problem(path: str | Path) -> Optional[str]:
    """Why ``path`` cannot be written as a file (missing directory, a directory, unwritable), or None."""
    if str(path).strip() == "":
        return "the path is empty"
    try:
        return _output_file_problem(Path(path))
    except (OSError, ValueError) as problem:  # a name too long, a NUL byte, ...
        return f"it cannot be used as a path ({getattr(problem, 'strerror', None) or problem})"


def _output_file_problem(target: Path) -> Optional[str]:
    if target.is_dir():
        return "it is a directory; give a file name inside it"
    parent = target.parent
    if not parent.exists():
        return f"the directory {short(str(parent))} does not exist"
    if not parent.is_dir():
        return f"{short(str(parent))} is not a directory"
    if target.exists() and not os.access(target, os.W_OK):
        return "the file exists and is not writable"
    return _probe_directory(parent)


def output_directory_problem(path: str | Path) -> Optional[str]:
    """Why ``path`` cannot be used (or created) as an output directory, or None."""
    if str(path).strip() == "":
        return "the path is empty"
    try:
        return _output_directory_problem(Path(path))
    except (OSError, ValueError) as problem:
        return f"it cannot be used as a path ({getattr(problem, 'strerror', None) or problem})"


def _output_directory_problem(target: Path) -> Optional[str]:
    if target.exists() and not target.is_dir():
        return "it exists and is not a directory"
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{short(str(existing))} is a file, not a directory"
    return _probe_directory(existing)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a unique temporary file in the same directory and os.replace."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_with_fallback(text: str, path: Optional[str | Path], fallback_prefix: str, fallback_suffix: str = ".json",
                        fallback_dirs: tuple[str | Path, ...] = ()) -> tuple[Path, Optional[str]]:
    """Write ``text`` to ``path`` atomically; if that fails (or no path), to a new timestamped file in the first of
    ``fallback_dirs`` that takes it, else in the temp directory.

    Returns (where it was written, why the requested path failed or None). Raises OSError only if every place fails.
    """
    import time

    problem = None
    if path is not None:
        try:
            atomic_write_text(path, text)
            return Path(path), None
        except (OSError, UnicodeError) as error:
            problem = f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"
    prefix = f"{fallback_prefix}{time.strftime('%Y%m%d-%H%M%S')}-"
    last_error: Optional[OSError] = None
    for directory in (*fallback_dirs, None):  # None: the system's temp directory
        try:
            if directory is not None:
                Path(directory).mkdir(parents=True, exist_ok=True)
            handle, fallback = tempfile.mkstemp(prefix=prefix, suffix=fallback_suffix, dir=directory)
        except OSError as error:
            last_error = error
            continue
        try:
            with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace") as stream:
                stream.write(text)
            return Path(fallback), problem
        except OSError as error:  # e.g. the disk filled up: leave no half-written file behind
            last_error = error
            with contextlib.suppress(OSError):
                os.unlink(fallback)
    assert last_error is not None
    raise last_error
