"""The ErrorMessage of a failed local Glue run: the exception's first line and where in the job's own code it
was raised, as Glue's error log names the failed line of the script (a user should not have to guess which
of a job's lines failed).
"""

from __future__ import annotations

import contextlib
import re
import traceback
from pathlib import Path

_TEXT_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _user_frames(exc: BaseException, user_dir: Path | None) -> list[tuple[str, int]]:
    """(file name, line) of the traceback's frames in the run's own files (its script and --extra-py-files,
    all staged below ``user_dir``), outermost first; the frames of pyspark and of this bridge are left out."""
    if user_dir is None:
        return []
    root = str(user_dir.resolve())
    places = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(exc.__traceback__)]
    # A Python worker's error (a UDF) reaches the driver as text holding the worker's traceback.
    places += [(name, int(line)) for name, line in _TEXT_FRAME.findall(str(exc))]
    frames = []
    for filename, line in places:
        with contextlib.suppress(OSError):
            if line and str(Path(filename).resolve()).startswith(root + "/"):
                frames.append((Path(filename).name, line))
    return frames


def _where(frames: list[tuple[str, int]], script_name: str | None) -> str:
    """` (at process_sales_data.py line 51, glue_etl_common.py line 135)`: the script's line whose call
    failed, then the innermost line of the run's own code when that is in another file. Glue's error log
    names the failed line of the script too; here it is in ErrorMessage, which every client shows."""
    if not frames:
        return ""
    in_script = [frame for frame in frames if frame[0] == script_name]
    places = [in_script[-1]] if in_script else []
    if frames[-1] not in places:
        places.append(frames[-1])
    return " (at " + ", ".join(f"{name} line {line}" for name, line in places) + ")"


def run_error_message(
    exc: BaseException, user_dir: Path | None = None, script_name: str | None = None, limit: int = 2048
) -> str:
    """``"<ExceptionType>: <first line> (at <script> line N[, <file> line M])"``, at most ``limit`` long.

    ``user_dir``: where the run's script and extra files were staged (frames elsewhere are pyspark's or the
    bridge's); ``script_name``: the script's file name."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if type(exc).__name__ == "Py4JJavaError":  # the Java side's message is more useful than py4j's header
        java = getattr(exc, "java_exception", None)
        first = str(java) if java is not None else first
    message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    where = _where(_user_frames(exc, user_dir), script_name)
    # The place must survive the cut to ErrorMessage's length: the message gives way, not the place.
    return message[: max(0, limit - len(where))] + where
