"""The run lock: one process at a time works on a run folder (:class:`RunLock`), and the
clean-up its holder does (temporary files of killed writers, ``train.restart=true``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

from ..errors import UserError
from .records import EVAL_DIR

__all__ = ["LOCK_FILE", "LOCK_HEARTBEAT_S", "LOCK_STALE_S", "RunLock", "RunLocked", "pid_alive", "remove_orphans",
           "clear_run"]


def pid_alive(pid: int) -> bool:
    """Whether a process of this id exists on this machine (records name the process writing them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LOCK_FILE = "run.lock"
# seconds between heartbeats of a held lock (the lock file's modification time)
LOCK_HEARTBEAT_S = float(os.environ.get("ABLATIONS_LOCK_HEARTBEAT_S", "10"))
# a lock whose heartbeat is older than this is stale (its holder died, maybe on another machine);
# assumption: six missed heartbeats, generous for a loaded shared file system
LOCK_STALE_S = float(os.environ.get("ABLATIONS_LOCK_STALE_S", "60"))


class RunLocked(UserError):
    """Another live process holds the run: the message names it."""


class RunLock:
    """An exclusive lock on one run folder, held while a process trains or restarts it.

    The lock is the file ``run.lock`` created with ``O_EXCL`` (atomic on local and network file
    systems), holding the holder's host, pid and start time; a daemon thread touches it every
    ``LOCK_HEARTBEAT_S`` seconds. A lock is stale, and is taken over, when its holder is a
    process of this machine that no longer exists, or when its heartbeat is older than
    ``LOCK_STALE_S`` seconds (a holder on another machine that crashed, or lost the folder).
    Breaking a stale lock goes through a second ``O_EXCL`` file, so two processes that find the
    same stale lock never both take it.
    """

    def __init__(self, run_dir: str | Path, purpose: str = "training"):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.purpose = purpose
        self.token = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # holder description ------------------------------------------------------------------
    def holder(self) -> dict | None:
        """The current lock file's content plus its heartbeat age in seconds; None when unlocked."""
        try:
            text = self.path.read_text(encoding="utf-8")
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        except OSError:
            return {"age_s": 0.0}
        try:
            info = json.loads(text)
            info = info if isinstance(info, dict) else {}
        except ValueError:  # written by a holder killed mid-write: judged by its age alone
            info = {}
        info["age_s"] = age
        return info

    @staticmethod
    def is_stale(info: dict) -> bool:
        if info.get("age_s", 0.0) > LOCK_STALE_S:
            return True
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            return info["pid"] != os.getpid() and not pid_alive(info["pid"])
        return False

    # acquire / release -------------------------------------------------------------------
    def acquire(self) -> "RunLock":
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # /proc/..., /dev/null/x, a read-only mount: no traceback, the folder named
            raise UserError(f"cannot make the run folder {self.run_dir} ({error.strerror or type(error).__name__}"
                            f"{': ' + str(error.filename) if error.filename and str(error.filename) != str(self.run_dir) else ''}); "
                            "set paths.runs to a folder you can write to") from None
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self.holder()
                if info is None:
                    continue  # released between our two looks
                if not self.is_stale(info):
                    raise RunLocked(self._busy_message(info)) from None
                self._break(info)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "purpose": self.purpose, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "command": " ".join(sys.argv)[:500]}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.path}", daemon=True)
            self._thread.start()
            return self
        raise RunLocked(f"could not take the lock {self.path}: other processes keep taking it; try again")

    def _busy_message(self, info: dict) -> str:
        who = f"process {info.get('pid', '?')} on host {info.get('host', '?')}"
        since = f" since {info['since']}" if info.get("since") else ""
        return (f"run {self.run_dir} is in use by {who} ({info.get('purpose', 'training')}{since}, "
                f"last heartbeat {info.get('age_s', 0.0):.0f} s ago: {info.get('command', '')!s}); wait for it to "
                f"finish or stop it, then run the command again (a lock whose holder died is taken over at once "
                f"on the same machine, after {LOCK_STALE_S:.0f} s without heartbeat from another machine)")

    def _break(self, info: dict) -> None:
        """Remove a stale lock, once, even when several processes find it at the same moment."""
        breaker = self.path.with_name(LOCK_FILE + ".break")
        try:
            fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:  # a breaker killed while breaking leaves its file: it is stale after the same delay
                if time.time() - breaker.stat().st_mtime > LOCK_STALE_S:
                    breaker.unlink()
            except FileNotFoundError:
                pass
            time.sleep(0.05)
            return
        os.close(fd)
        try:
            again = self.holder()
            if again is not None and again.get("token") == info.get("token") and self.is_stale(again):
                print(f"taking over the stale lock of {self.run_dir} (process {info.get('pid', '?')} on host "
                      f"{info.get('host', '?')}, last heartbeat {info.get('age_s', 0.0):.0f} s ago)",
                      file=sys.stderr, flush=True)
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            breaker.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        info = self.holder()
        if info is not None and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


_TEMPORARY_PID = re.compile(r"\.(\d+)\.[^.]+\.tmp$")


def remove_orphans(run_dir: str | Path, dead_only: bool = False) -> list[Path]:
    """Delete the temporary files of atomic writes a killed process left in a run folder (never
    read by anything). The holder of the run lock removes them all; ``dead_only`` removes only
    those whose writer (pid in the name) no longer runs on this machine (``evaluate``, which
    may run beside another evaluation of the same run)."""
    run_dir = Path(run_dir)
    orphans = [p for folder in (run_dir, run_dir / EVAL_DIR) if folder.is_dir()
               for p in folder.glob(".*.tmp") if p.is_file()]
    if dead_only:
        pids = [_TEMPORARY_PID.search(p.name) for p in orphans]
        orphans = [p for p, pid in zip(orphans, pids) if pid and not pid_alive(int(pid.group(1)))]
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def clear_run(run_dir: str | Path) -> list[str]:
    """Delete a run's record (status, config, metrics, checkpoint, eval rows), keeping the lock:
    what ``train.restart=true`` does, under the run lock, before training again."""
    run_dir = Path(run_dir)
    removed = []
    if not run_dir.is_dir():
        return removed
    for path in sorted(run_dir.iterdir()):
        if path.name in (LOCK_FILE, LOCK_FILE + ".break"):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    return removed
