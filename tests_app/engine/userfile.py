"""A user's own locustfile, checked before any load: does it import, which user classes and
shape it has, can the plugin attribute its requests. Django-free and Locust-free: the file is
imported in a child Python (`python -c`, with Locust available there), which reports what it
found as one JSON line; the caller's process never imports Locust or the file.

    info = inspect_locustfile("/path/locustfile.py", user_classes=["Shopper"])
    info.user_classes   # ("Shopper",) the classes the run will use
    info.shape          # "StepShape" or None: a LoadTestShape drives the users
    info.text, info.sha256

Refusals raise `LocustfileError` with one line: the file and line where Python failed (a syntax
error, an exception at import), no User class, an unknown class name, or a user class whose
client the plugin cannot attribute (only HttpUser and FastHttpUser report each response).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from clusters import procs

INSPECT_TIMEOUT_S = 60.0
ATTRIBUTABLE = ("HttpUser", "FastHttpUser")

# Runs in the child: imports the file as Locust would (its directory first on sys.path) and
# prints {"classes": [{"name", "client"}], "shapes": [...]} or {"error": "..."}.
_INSPECT = r"""
import importlib.util, json, os, sys, traceback
path = sys.argv[1]
def report(data):
    sys.stdout.write("\nLBLAB-INSPECT " + json.dumps(data) + "\n")
    sys.stdout.flush()
    os._exit(0)
try:
    from locust import FastHttpUser, HttpUser, LoadTestShape, User
except Exception as exc:
    report({"error": f"locust cannot be imported: {exc!r}"})
sys.path.insert(0, os.path.dirname(path))
try:
    spec = importlib.util.spec_from_file_location("lblab_checked_locustfile", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module.__name__] = module
    spec.loader.exec_module(module)
except SyntaxError as exc:
    report({"error": f"{path}, line {exc.lineno}: SyntaxError: {exc.msg}"})
except BaseException as exc:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) == path]
    where = f"{path}, line {frames[-1].lineno}" if frames else path
    message = str(exc).splitlines()[0] if str(exc) else ""
    report({"error": f"{where}: {type(exc).__name__}: {message}".rstrip(": ")})
classes, shapes = [], []
for name, value in vars(module).items():
    if isinstance(value, type) and issubclass(value, User) and not value.abstract:
        client = "FastHttpUser" if issubclass(value, FastHttpUser) else "HttpUser" if issubclass(value, HttpUser) \
            else next((base.__name__ for base in value.__mro__[1:] if base.__module__.startswith("locust")), "User")
        classes.append({"name": name, "client": client})
    elif isinstance(value, type) and issubclass(value, LoadTestShape) and not getattr(value, "abstract", True):
        shapes.append(name)
report({"classes": classes, "shapes": shapes})
"""


class LocustfileError(ValueError):
    """A locustfile LB Lab will not run: one line saying why (the file and line, when Python failed).
    `field`: what is wrong, `locustfile` or `user_classes` (a class name the file does not have)."""

    def __init__(self, message: str, *, field: str = "locustfile"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LocustfileInfo:
    path: str
    text: str
    sha256: str
    user_classes: tuple[str, ...]  # the classes the run uses (those named, or all of them)
    all_user_classes: tuple[str, ...]
    shape: str | None  # the file's LoadTestShape: it drives the users

    named: bool = False  # the user named the classes (else: all of the file's)

    def config(self) -> dict:
        """The plugin config's `locustfile` (tests_app/engine/config.py): the class names are passed
        to Locust when the user named some; otherwise Locust runs all of them."""
        return {"path": self.path, "user_classes": list(self.user_classes) if self.named else [], "shape": self.shape}


def read_locustfile(path: str | os.PathLike) -> tuple[Path, str]:
    """The file's resolved path and text; LocustfileError when it is not a readable .py file."""
    file = Path(path).expanduser()
    try:
        file = file.resolve(strict=True)
    except (OSError, RuntimeError):
        raise LocustfileError(f"{path}: no such file") from None
    if not file.is_file():
        raise LocustfileError(f"{path}: not a file")
    if file.suffix != ".py":
        raise LocustfileError(f"{path}: a locustfile is a .py file")
    try:
        return file, file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LocustfileError(f"{path}: cannot be read: {error}") from None


def inspect_locustfile(path: str | os.PathLike, *, user_classes: tuple[str, ...] | list[str] = (),
                       python: str | None = None) -> LocustfileInfo:
    """What the file holds, checked; LocustfileError (one line) when LB Lab cannot run it."""
    file, text = read_locustfile(path)
    env = procs.with_project_on_path({k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")})
    try:
        child = subprocess.run([python or sys.executable, "-c", _INSPECT, str(file)], capture_output=True, text=True,
                               timeout=INSPECT_TIMEOUT_S, env=env, cwd=str(file.parent), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LocustfileError(f"{file}: importing it took more than {INSPECT_TIMEOUT_S:g} s") from None
    found = None
    for line in child.stdout.splitlines():
        if line.startswith("LBLAB-INSPECT "):
            found = json.loads(line[len("LBLAB-INSPECT "):])
    if found is None:
        last = (child.stderr.strip().splitlines() or [f"exit {child.returncode}"])[-1]
        raise LocustfileError(f"{file}: could not be imported: {last}")
    if "error" in found:
        raise LocustfileError(found["error"])
    clients = {item["name"]: item["client"] for item in found["classes"]}
    if not clients:
        raise LocustfileError(f"{file}: defines no User class (a subclass of HttpUser or FastHttpUser, not abstract)")
    named = tuple(dict.fromkeys(user_classes))
    unknown = [name for name in named if name not in clients]
    if unknown:
        raise LocustfileError(f"{file}: no user class {', '.join(unknown)} (it has {', '.join(clients)})",
                              field="user_classes")
    chosen = named or tuple(clients)
    for name in chosen:
        if clients[name] not in ATTRIBUTABLE:
            raise LocustfileError(
                f"{file}: {name} is a {clients[name]}: LB Lab attributes requests of HttpUser and FastHttpUser "
                f"only (their responses carry the pod)")
    shapes = found["shapes"]
    if len(shapes) > 1:
        raise LocustfileError(f"{file}: more than one LoadTestShape ({', '.join(shapes)}): keep one")
    return LocustfileInfo(path=str(file), text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                          user_classes=chosen, all_user_classes=tuple(clients), shape=shapes[0] if shapes else None,
                          named=bool(named))


# --------------------------------------------------------------------------- the operator's registry
# In the web app and the API a locustfile is named, never given as a path or uploaded: the operator
# puts the files in one directory (LBLAB_LOCUSTFILES_DIR) and users choose among them by name.


def registered_names(directory: str | os.PathLike) -> list[str]:
    """The locustfiles registered in `directory`, by name, sorted: its `.py` files (not in its
    subdirectories), those whose name starts with `_` or `.` left out (helper modules a locustfile
    imports), and a symlink only when it resolves to a file inside the directory."""
    names = []
    for entry in Path(directory).iterdir():
        if entry.suffix == ".py" and not entry.name.startswith(("_", ".")):
            try:
                registered_path(directory, entry.name)
            except LocustfileError:
                continue
            names.append(entry.name)
    return sorted(names)


def registered_path(directory: str | os.PathLike, name: str) -> Path:
    """The file a registered name stands for, resolved (symlinks followed); LocustfileError when the
    name is not one of `registered_names(directory)`: a path (`../x.py`, `/etc/x.py`, `sub/x.py`),
    a helper module, a missing file, or a symlink to anything outside the directory."""
    shown = name if isinstance(name, str) else repr(name)
    refused = LocustfileError(f"{shown!r} is not a registered locustfile (GET /api/locustfiles/ lists them)")
    if (not isinstance(name, str) or not name.endswith(".py") or name.startswith(("_", "."))
            or any(char in name for char in "/\\\0") or os.sep in name):
        raise refused
    root = Path(directory).resolve()
    try:
        file = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):
        raise refused from None
    if not file.is_relative_to(root) or not file.is_file():  # a symlink out of the directory, or no file
        raise refused
    return file
