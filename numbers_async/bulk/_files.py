"""Opening a journal file: safely, and only if it is this job's journal.

A journal path comes from the user (``--journal``), and a mistake must never cost an
unrelated file. So a journal file is:

- opened relative to its directory without following a symbolic link (``O_NOFOLLOW``),
  in a directory other users cannot write to (or one with the sticky bit, like
  ``/tmp``); a link, dangling or not, is refused and nothing is created at its target;
- a regular file owned by the user running the job;
- empty (new), or starting with a complete, valid journal header of this project.
  Anything else — a list of phone numbers passed by mistake, a file without a newline —
  is refused and left exactly as it was. Only after a valid header is a torn last line
  (a crash mid-write) cut off;
- locked for the run (``flock``).

Reading folds every line into a ``_State`` after checking its shape (``_lines``); a line
nested too deeply, or asking for a wait beyond ``MAX_WINDOW``, is a ``JournalError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, Final

from numbers_async.bulk._lines import line_problem
from numbers_async.bulk._state import FORMAT, READABLE_VERSIONS, VERSION, State
from numbers_async.bulk._store import MAX_WINDOW, request_digest, shown_request
from numbers_async.errors import InvalidInputError, JournalError

if sys.platform != "win32":
    import fcntl

__all__ = [
    "FILE_MODE",
    "RECOVER",
    "close_opened",
    "fsync_directory",
    "journal_error",
    "open_file",
    "read_report_state",
    "user_id",
]

FILE_MODE: Final = 0o600  # a journal holds plan ids, callback URLs and number records

RECOVER: Final = (
    "if the file was edited by hand, restore it; otherwise move it aside, check "
    "active_numbers.list for what the job had done, and start a new journal"
)

_NOT_REGULAR: Final = "not a regular file (a journal must be a plain file)"
_LINK: Final = "a symbolic link (a journal must be a plain file; pass the path it points to)"
_SHARED_DIRECTORY: Final = (
    "in a directory other users can write to without the sticky bit (they could replace "
    "the journal); use a private directory"
)
_NOT_A_JOURNAL: Final = (
    "does not start with a numbers_async bulk journal header; it was left as it is "
    "(pass the path of a journal, or of a file that does not exist yet)"
)


def user_id() -> int | None:
    """The user running the job (``None`` where the OS has no user ids)."""
    getuid = getattr(os, "getuid", None)
    return None if getuid is None else int(getuid())


def journal_error(path: Path, error: OSError) -> JournalError:
    """A ``JournalError`` for an OS error on the file: the path and the cause."""
    reason = error.strerror or type(error).__name__
    return JournalError(str(path), reason)


def close_opened(opening: asyncio.Future[tuple[IO[bytes], State, bool]]) -> None:
    """Close the file a cancelled ``Journal.open`` was still opening (and its lock)."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result()[0].close()


def open_file(path: Path, operation: str, request: Any) -> tuple[IO[bytes], State, bool]:
    """Open, lock and read the journal, cutting off a torn last line after a valid header.

    A new file is created with mode ``0600``; an existing file keeps its mode. Anything
    but a regular file of the user's (a link, a directory, a device such as
    ``/dev/full``, a FIFO) is refused before it is read.
    """
    descriptor = _open_descriptor(path)
    try:
        _check_descriptor(path, descriptor)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        file = os.fdopen(descriptor, "a+b")
    except BaseException:
        os.close(descriptor)
        raise
    try:
        locked = _lock(file, path)
        file.seek(0)
        content = file.read()
        end = content.rfind(b"\n") + 1
        if content and not end:
            # Not one complete line: whatever this is, it is not a journal to overwrite.
            raise InvalidInputError("journal", f"{path} {_NOT_A_JOURNAL}")
        state = read_state(content[:end], path, operation, request)
        if end < len(content):
            file.truncate(end)  # the torn last line: never acknowledged, nothing relied on it
    except OSError as exc:
        file.close()
        raise journal_error(path, exc) from exc
    except BaseException:
        file.close()
        raise
    return file, state, locked


def _open_descriptor(path: Path) -> int:
    """The file's descriptor, opened without following a link, in a checked directory."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the check must not block
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not nofollow or os.open not in os.supports_dir_fd:  # pragma: no cover - Windows
        try:
            return os.open(path, flags, FILE_MODE)
        except OSError as exc:
            raise journal_error(path, exc) from exc
    try:
        directory = os.open(
            path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        )
    except OSError as exc:
        raise journal_error(path, exc) from exc
    try:
        _check_directory(path, directory)
        try:
            existing = os.stat(path.name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISLNK(existing.st_mode):
            raise JournalError(str(path), _LINK)
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise JournalError(str(path), _NOT_REGULAR)
        try:
            return os.open(path.name, flags | nofollow, FILE_MODE, dir_fd=directory)
        except OSError as exc:
            if _is_link(path.name, directory):  # swapped in after the check
                raise JournalError(str(path), _LINK) from exc
            raise journal_error(path, exc) from exc
    except OSError as exc:
        raise journal_error(path, exc) from exc
    finally:
        os.close(directory)


def _is_link(name: str, directory: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _check_directory(path: Path, directory: int) -> None:
    mode = os.fstat(directory).st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise JournalError(str(path), _SHARED_DIRECTORY)


def _check_descriptor(path: Path, descriptor: int) -> None:
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode):
        raise JournalError(str(path), _NOT_REGULAR)
    user = user_id()
    if user is not None and opened.st_uid != user:
        raise JournalError(
            str(path),
            f"owned by another user (uid {opened.st_uid}, not {user}); a journal must "
            "belong to the user running the job",
        )


def read_state(content: bytes, path: Path, operation: str, request: Any) -> State:
    """Parse the complete lines of a journal and check that it belongs to this job."""
    state = State()
    lines = content.splitlines()
    if not lines:
        return state
    header = state.header = _header(lines[0], path)
    if header.get("operation") != operation:
        raise InvalidInputError(
            "journal",
            f"{path} was written by a bulk {header.get('operation')} job; it cannot drive a "
            f"bulk {operation} job (use another file)",
        )
    if not _same_request(header, request):
        raise InvalidInputError(
            "journal",
            f"{path} was written by a bulk {operation} job with a different request "
            f"({json.dumps(shown_request(header.get('request')))}); use the same arguments "
            "or another file",
        )
    _fold(state, lines[1:], path)
    return state


def read_report_state(path: Path) -> State:
    """Read a journal for a report: any operation and request, no lock, nothing cut."""
    try:
        descriptor = os.open(
            path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        )
    except OSError as exc:
        raise journal_error(path, exc) from exc
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise JournalError(str(path), _NOT_REGULAR)
        try:
            content = file.read()
        except OSError as exc:
            raise journal_error(path, exc) from exc
    state = State()
    lines = content[: content.rfind(b"\n") + 1].splitlines()
    if not lines:
        raise InvalidInputError("journal", f"{path} is empty: no job has written it yet")
    state.header = _header(lines[0], path)
    _fold(state, lines[1:], path)
    return state


def _header(line: bytes, path: Path) -> dict[str, Any]:
    header = parse_line(line, path, 1)
    if header.get("journal") != FORMAT:
        raise InvalidInputError("journal", f"{path} is not a numbers_async bulk journal")
    if header.get("version") not in READABLE_VERSIONS:
        raise InvalidInputError(
            "journal", f"{path} has version {header.get('version')!r}; expected {VERSION}"
        )
    return header


def _same_request(header: dict[str, Any], request: Any) -> bool:
    # A header whose request had credentials masked keeps the digest of the real one.
    if "requestDigest" in header:
        return bool(header["requestDigest"] == request_digest(request))
    return bool(header.get("request") == request)


def _fold(state: State, lines: list[bytes], path: Path) -> None:
    for number, line in enumerate(lines, start=2):
        entry = parse_line(line, path, number)
        problem = line_problem(entry)
        if problem is not None:
            raise InvalidInputError(
                "journal",
                f"{path}: line {number} is not a valid journal entry ({problem}); {RECOVER}",
            )
        for name in ("window", "attempt_window", "attempt"):  # "attempt": its older name
            if entry.get(name, 0) > MAX_WINDOW:
                raise JournalError(
                    str(path),
                    f"line {number} asks to wait {entry[name]:g} s ({name}), beyond the "
                    f"{MAX_WINDOW:g} s a journal may ask for; {RECOVER}",
                )
        state.apply(entry)


def parse_line(line: bytes, path: Path, number: int) -> dict[str, Any]:
    """One line as a JSON object, or the error that names it."""
    try:
        entry = json.loads(line)
    except RecursionError:
        raise JournalError(
            str(path), f"line {number} is nested too deeply to be a journal entry; {RECOVER}"
        ) from None
    except ValueError:
        raise InvalidInputError(
            "journal", f"{path}: line {number} is not JSON; {RECOVER}"
        ) from None
    if not isinstance(entry, dict):
        raise InvalidInputError("journal", f"{path}: line {number} is not a JSON object; {RECOVER}")
    return entry


def _lock(file: IO[bytes], path: Path) -> bool:
    """Lock the journal for this run; whether a lock exists here (not on Windows)."""
    if sys.platform == "win32":  # pragma: no cover - no flock; the lock is a safety net only
        return False
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InvalidInputError("journal", f"{path} is in use by another running job") from None
    return True


def fsync_directory(path: Path) -> None:
    """Make a new file's directory entry durable too, or a crash could lose the file."""
    with contextlib.suppress(OSError):  # not every platform can open a directory
        descriptor = os.open(path.resolve().parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
