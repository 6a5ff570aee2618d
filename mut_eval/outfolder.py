"""The output folder: written completely or not at all, and never at the cost of a user's files.

mut_eval replaces its output folder as a whole (so that no table of an earlier run
survives beside the new ones). That is safe only for a folder that holds nothing but an
earlier mut_eval output, which is recognised by the manifest every run writes:
``OUT/.mut_eval_manifest.json`` lists each file written with its size and SHA-256. A
folder with any other file, a changed file, or no manifest is refused before the
analysis starts, as are a symbolic link, the current folder, a path through a file and a
place where nothing can be written.

A run writes into a hidden sibling ``.OUT.xxxxxxxx/`` (mode 0700: it holds complete,
unsuppressed results) that carries a marker with the writing process's id until it is
moved into place; a folder left by a killed run (its process gone) is removed by the
next run into the same ``OUT``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from . import StudyError, __version__

MANIFEST = ".mut_eval_manifest.json"
INCOMPLETE = ".mut_eval_incomplete"   # inside a temporary folder while a run writes it


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | Path) -> Path:
    """List every file under ``folder`` (relative path, size, SHA-256) in its manifest."""
    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(folder.rglob("*"))
             # only this folder's own manifest: a nested output (a programme's cohort) keeps its own, listed
             if p.is_file() and p.relative_to(folder).as_posix() not in (MANIFEST, INCOMPLETE)}
    path = folder / MANIFEST
    path.write_text(json.dumps({"written_by": f"mut_eval {__version__}", "files": files}, indent=1) + "\n",
                    encoding="utf-8")
    return path


def foreign_entries(folder: str | Path) -> list[str]:
    """What in ``folder`` is not an unchanged file of the mut_eval output its manifest lists
    (sorted; folders end in ``/``). Every entry is foreign when there is no readable manifest."""
    folder = Path(folder)
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
        assert isinstance(listed, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        listed = {}
    parents = {p for name in listed for p in Path(name).parents if p != Path(".")}
    foreign = []
    for root, dirs, files in os.walk(folder):  # does not follow links
        rel_root = Path(root).relative_to(folder)
        for d in list(dirs):
            rel = rel_root / d
            if rel not in parents or (Path(root) / d).is_symlink():
                foreign.append(rel.as_posix() + "/")
                dirs.remove(d)
        for f in files:
            rel = (rel_root / f).as_posix()
            p = Path(root) / f
            if rel == MANIFEST and listed:
                continue
            entry = listed.get(rel)
            if (p.is_symlink() or not p.is_file() or not isinstance(entry, dict)
                    or p.stat().st_size != entry.get("size") or _sha256(p) != entry.get("sha256")):
                foreign.append(rel)
    return sorted(foreign)


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path):
        path = path.parent
    return path


def check_output_folder(out: str | Path, protect: tuple[str | Path, ...] = ()) -> None:
    """Refuse, before any work, an ``--out`` whose replacement would destroy data or that
    cannot be written: a symbolic link, the current folder or one of the ``protect``
    folders (e.g. the study) or a folder holding them, a path through a file, a place
    without write permission, or an existing folder that holds anything but an unchanged
    earlier mut_eval output (see :func:`foreign_entries`)."""
    given = Path(out)
    out_abs = Path(os.path.abspath(given))
    if out_abs.is_symlink():
        raise StudyError(f"--out {given}: is a symbolic link (to {os.readlink(out_abs)}); mut_eval replaces its "
                         "output folder as a whole and does not follow links: give the real folder")
    resolved = out_abs.resolve()
    for what, p in [("the current folder", Path.cwd())] + [(f"the folder {q}", Path(q)) for q in protect]:
        p = p.resolve()
        if resolved == p or resolved in p.parents:
            raise StudyError(f"--out {given}: this would replace {what} (or a folder holding it) with the results; "
                             "choose another output folder")
    base = _nearest_existing(out_abs)
    if base == out_abs and not out_abs.is_dir():
        raise StudyError(f"--out {given}: exists and is a file, not a folder; choose another output folder")
    if base != out_abs and not base.is_dir():
        raise StudyError(f"--out {given}: {base} is a file, not a folder; choose another output folder")
    probe_in = out_abs.parent if base == out_abs else base
    try:  # the only sure test of permission (os.access says yes to root, no on some network drives)
        os.rmdir(tempfile.mkdtemp(prefix=".mut_eval_probe.", dir=probe_in))
    except OSError as e:
        raise StudyError(f"--out {given}: cannot write in {probe_in} ({type(e).__name__}: {e.strerror or e}); "
                         "choose a folder you can write to") from None
    if out_abs.is_dir():
        foreign = foreign_entries(out_abs)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise StudyError(
                f"--out {given}: the folder holds files that are not an unchanged earlier mut_eval output ({shown}); "
                f"mut_eval replaces its output folder as a whole, so it only replaces an empty folder or one "
                f"holding nothing but its own earlier output (listed in {MANIFEST}): choose a new or empty folder, "
                "or move those files")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale(target: Path) -> list[Path]:
    """Remove the hidden siblings ``.NAME.xxxxxxxx[.old]`` of ``target`` left by a killed run:
    a temporary folder whose marker names a process that no longer runs, or a replaced
    output (``.old``) that still holds its manifest. Returns what was removed."""
    removed = []
    pattern = re.compile(re.escape(f".{target.name}.") + r"[A-Za-z0-9_]{8}(\.old)?")
    if not target.parent.is_dir():
        return removed
    for p in target.parent.iterdir():
        if not pattern.fullmatch(p.name) or p.is_symlink() or not p.is_dir():
            continue
        if p.name.endswith(".old"):
            stale = (p / MANIFEST).is_file()
        else:
            try:
                stale = not _pid_alive(int((p / INCOMPLETE).read_text(encoding="ascii").strip()))
            except (OSError, ValueError):
                stale = False
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


class atomic_dir:
    """Write a folder completely or not at all: work in a temporary sibling folder (mode
    0700) and move it into place, with its manifest, on success, so a failed run never
    leaves half-written output. Check the target first with :func:`check_output_folder`.

    >>> with atomic_dir("reports/x") as tmp:   # doctest: +SKIP
    ...     write_results(results, tmp)
    """

    def __init__(self, target: str | Path):
        self.target = Path(os.path.abspath(target))

    def __enter__(self) -> Path:
        if self.target.is_symlink():  # never replace a link (nor follow it into its target)
            raise StudyError(f"--out {self.target}: is a symbolic link; give the real folder")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.target)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        os.chmod(self.tmp, 0o700)
        (self.tmp / INCOMPLETE).write_text(str(os.getpid()), encoding="ascii")
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        (self.tmp / INCOMPLETE).unlink()
        write_manifest(self.tmp)
        # files may have been put into the target while the analysis ran
        foreign = foreign_entries(self.target) if self.target.is_dir() else []
        if foreign or (self.target.exists() and not self.target.is_dir()):
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise StudyError(f"--out {self.target}: now holds files mut_eval did not write ({', '.join(foreign[:5])}); "
                             "nothing was replaced: choose a new or empty folder")
        if self.target.exists():
            old = self.tmp.with_name(self.tmp.name + ".old")
            self.target.rename(old)
            self.tmp.rename(self.target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.tmp.rename(self.target)
        return False
