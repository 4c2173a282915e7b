"""Where policy comes from, per OS, and turning each location into checked entries.

Highest precedence first:

* Windows: ``HKLM\\SOFTWARE\\Policies\\Meridian`` (as Group Policy writes it: values at the key are
  locked, values under its ``Recommended`` subkey are defaults, lists are subkeys of numbered
  values), then ``%ProgramData%\\Meridian\\policy.json``.
* macOS: ``/Library/Managed Preferences/<bundle id>.plist`` (what an MDM profile installs).
* Linux: ``/etc/meridian/policy.json``, then ``/etc/meridian/policy.d/*.json``, where among the
  drop-ins a later name wins (``90-site.json`` over ``10-base.json``), as in sysctl.d.

Plus one user-level file (in the profile) that may only tighten (see effective.py).

Every location is injectable (a root folder, a registry reader), so tests never touch /etc or a
real registry. Readers never raise for bad content: they return problems with the source.
"""

from __future__ import annotations

import importlib
import json
import os
import plistlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from app.paths import Profile
from app.policy.schema import BY_NAME, SCHEMA_VERSION, Invalid, Key, Problem, check_value

Level = Literal["machine", "user"]
System = Literal["windows", "macos", "linux"]

REGISTRY_PATH = r"SOFTWARE\Policies\Meridian"
REGISTRY_DISPLAY = "HKLM\\" + REGISTRY_PATH
RECOMMENDED = "Recommended"
# The app's macOS bundle identifier: the MDM payload type and the managed-preferences file name.
MACOS_BUNDLE_ID = "app.meridian.Meridian"
LOCKED = "locked"
DEFAULTS = "defaults"
USER_FILE = "policy.json"  # in the profile folder: the person's own, tighten-only policy


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any  # the checked value; the key's safest value when the policy's was invalid
    locked: bool
    invalid: bool = False


@dataclass
class Source:
    name: str  # a path or registry key, shown with every value and problem
    level: Level
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failed: bool = False  # could not be read at all (syntax, permissions)

    def problem(self, key: str | None, reason: str, kind: str) -> None:
        self.problems.append(Problem(self.name, key, reason, kind))


# --- the registry -------------------------------------------------------------------------------


@dataclass
class RegistryTree:
    """One registry key: its values (as winreg returns them) and its subkeys."""

    values: dict[str, Any] = field(default_factory=dict)
    subkeys: dict[str, RegistryTree] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, nested: dict[str, Any]) -> RegistryTree:
        """Dict values become subkeys, everything else values (for fakes and tests)."""
        tree = cls()
        for name, value in nested.items():
            if isinstance(value, dict):
                tree.subkeys[name] = cls.from_dict(value)
            else:
                tree.values[name] = value
        return tree


class RegistryReader(Protocol):
    def read_key(self, path: str) -> RegistryTree | None:
        """The key under HKLM with all its subkeys, or None when it does not exist.

        Raises OSError when it exists but cannot be read.
        """


class WindowsRegistry:
    """HKLM through winreg, as Group Policy wrote it."""

    def read_key(self, path: str) -> RegistryTree | None:
        # Imported here (and untyped: mypy knows winreg only on Windows) so that other
        # systems never need it.
        winreg: Any = importlib.import_module("winreg")

        access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY  # where GP writes, 32- or 64-bit us
        try:
            handle = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, access)
        except FileNotFoundError:
            return None
        with handle:
            return self._tree(winreg, handle, access)

    def _tree(self, winreg: Any, handle: Any, access: int) -> RegistryTree:
        tree = RegistryTree()
        for i in _count():
            try:
                name, value, _type = winreg.EnumValue(handle, i)
            except OSError:
                break
            tree.values[name] = value
        for i in _count():
            try:
                sub = winreg.EnumKey(handle, i)
            except OSError:
                break
            with winreg.OpenKey(handle, sub, 0, access) as child:
                tree.subkeys[sub] = self._tree(winreg, child, access)
        return tree


class DictRegistry:
    """A registry in a dict: the fake for tests, and for checking exported settings."""

    def __init__(self, keys: dict[str, RegistryTree] | None = None) -> None:
        self.keys = {k.lower(): v for k, v in (keys or {}).items()}

    def read_key(self, path: str) -> RegistryTree | None:
        return self.keys.get(path.lower())


def _count() -> Iterator[int]:
    i = 0
    while True:
        yield i
        i += 1


def read_registry(reader: RegistryReader, path: str = REGISTRY_PATH) -> Source | None:
    name = "HKLM\\" + path
    try:
        tree = reader.read_key(path)
    except OSError as exc:
        src = Source(name, "machine", failed=True)
        src.problem(None, f"could not be read ({exc.strerror or type(exc).__name__})", "unreadable")
        return src
    if tree is None:
        return None
    src = Source(name, "machine")
    locked: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    version: Any = None
    # Value names are case-insensitive in the registry.
    for raw_name, value in tree.values.items():
        if raw_name.lower() == "schema_version":
            version = value
        else:
            locked[raw_name.lower()] = value
    for sub_name, sub in tree.subkeys.items():
        if sub_name.lower() == RECOMMENDED.lower():
            defaults.update({n.lower(): v for n, v in sub.values.items()})
            defaults.update({n.lower(): _registry_list(t) for n, t in sub.subkeys.items()})
        else:
            locked[sub_name.lower()] = _registry_list(sub)
    if version is not None:
        _check_version(src, version)
    _add_section(src, locked, locked=True, from_registry=True)
    _add_section(src, defaults, locked=False, from_registry=True)
    return src


def _registry_list(tree: RegistryTree) -> Any:
    """Group Policy's <list> writes values named 1, 2, 3, ... under a subkey of the list's name."""
    if tree.subkeys:
        return {"subkeys": sorted(tree.subkeys)}  # not a list: reported as a wrong type
    names = sorted(tree.values, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))
    return [tree.values[n] for n in names]


# --- files --------------------------------------------------------------------------------------


def read_json_file(path: Path, level: Level = "machine") -> Source | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _failed(str(path), level, f"could not be read ({exc.strerror or exc})", "unreadable")
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    try:
        # utf-8-sig: Notepad writes a byte-order mark.
        doc = json.loads(data.decode("utf-8-sig"), object_pairs_hook=pairs)
    except UnicodeDecodeError:
        return _failed(str(path), level, "is not UTF-8 text", "syntax")
    except json.JSONDecodeError as exc:
        return _failed(
            str(path),
            level,
            f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            "syntax",
        )
    src = parse_document(doc, str(path), level)
    for k in sorted(set(duplicates)):
        src.problem(k, "is given twice in one object; the last one counts", "structure")
    return src


def read_plist_file(path: Path, level: Level = "machine") -> Source | None:
    try:
        with path.open("rb") as fh:
            doc = plistlib.load(fh)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _failed(str(path), level, f"could not be read ({exc.strerror or exc})", "unreadable")
    except Exception as exc:  # plistlib raises InvalidFileException, ExpatError, ValueError...
        return _failed(str(path), level, f"is not a valid property list ({exc})", "syntax")
    return parse_document(doc, str(path), level)


def read_mobileconfig(path: Path) -> Source | None:
    """The Meridian payload of a configuration profile (for ``policy check``)."""
    src = read_plist_file(path)
    if src is None or src.failed:
        return src
    with path.open("rb") as fh:
        doc = plistlib.load(fh)
    payloads = [
        p
        for p in (doc.get("PayloadContent") or [])
        if isinstance(p, dict) and p.get("PayloadType") == MACOS_BUNDLE_ID
    ]
    if not payloads:
        return _failed(
            str(path), "machine", f"has no payload of type {MACOS_BUNDLE_ID}", "structure"
        )
    return parse_document(payloads[0], str(path), "machine")


def read_any_file(path: Path) -> Source | None:
    """A policy file of any supported kind, by its name: .json, .plist or .mobileconfig."""
    suffix = path.suffix.lower()
    if suffix == ".mobileconfig":
        return read_mobileconfig(path)
    if suffix == ".plist":
        return read_plist_file(path)
    return read_json_file(path)


def _failed(name: str, level: Level, reason: str, kind: str) -> Source:
    src = Source(name, level, failed=True)
    what = (
        "; Meridian stays turned off until it is fixed"
        if level == "machine"
        else "; it is ignored (a user-level file can only tighten)"
    )
    src.problem(None, reason + what, kind)
    return src


# --- the document -------------------------------------------------------------------------------


def parse_document(doc: Any, name: str, level: Level) -> Source:
    """A JSON or plist policy document: ``schema_version``, ``locked``, ``defaults``."""
    src = Source(name, level)
    if not isinstance(doc, dict):
        src.failed = level == "machine"
        src.problem(None, "must be an object with 'locked' and 'defaults'", "structure")
        return src
    if "schema_version" in doc:
        _check_version(src, doc["schema_version"])
    else:
        src.problem(
            "schema_version", f"is missing (this Meridian reads {SCHEMA_VERSION})", "version"
        )
    sections: dict[str, dict[str, Any]] = {LOCKED: {}, DEFAULTS: {}}
    stray: dict[str, Any] = {}
    for k, v in doc.items():
        if not isinstance(k, str) or k == "schema_version" or _bookkeeping(k):
            continue
        if k in sections:
            if isinstance(v, dict):
                sections[k] = v
            else:
                src.problem(k, "must be an object of key: value", "structure")
        elif k in BY_NAME:
            # Meant as a setting, so it applies, and (never loosening) as a locked one.
            src.problem(
                k, "belongs under 'locked' or 'defaults'; it is treated as locked", "misplaced"
            )
            stray[k] = v
        else:
            src.problem(k, "is not a Meridian policy key; it is ignored", "unknown_key")
    both = set(sections[LOCKED]) & set(sections[DEFAULTS])
    for k in sorted(both):
        src.problem(k, "is both locked and a default; the locked value counts", "contradiction")
    _add_section(src, {**stray, **sections[LOCKED]}, locked=True)
    _add_section(src, {k: v for k, v in sections[DEFAULTS].items() if k not in both}, locked=False)
    return src


def _bookkeeping(name: str) -> bool:
    # Comments ("_comment", "$schema") and the MDM profile's own keys.
    return name.startswith(("_", "$", "Payload"))


def _check_version(src: Source, version: Any) -> None:
    if type(version) is not int or version < 1:
        src.problem(
            "schema_version",
            f"must be a whole number from 1 (this Meridian reads {SCHEMA_VERSION})",
            "version",
        )
    elif version > SCHEMA_VERSION:
        src.problem(
            "schema_version",
            f"is {version}, newer than this Meridian ({SCHEMA_VERSION}); keys it does not know "
            "are ignored, the others apply",
            "version",
        )


def _add_section(
    src: Source, values: dict[str, Any], *, locked: bool, from_registry: bool = False
) -> None:
    for name, raw in values.items():
        if not isinstance(name, str) or _bookkeeping(name):
            continue
        key = BY_NAME.get(name)
        if key is None:
            src.problem(name, "is not a Meridian policy key; it is ignored", "unknown_key")
            continue
        entry_locked = locked
        if not locked and not key.lockable:
            src.problem(
                name, "is a restriction, always enforced; list it under 'locked'", "misplaced"
            )
            entry_locked = True
        _add_entry(src, key, raw, entry_locked, from_registry)


def _add_entry(src: Source, key: Key, raw: Any, locked: bool, from_registry: bool) -> None:
    try:
        value, dropped = check_value(key, raw, from_registry=from_registry)
    except Invalid as exc:
        if src.level == "user":
            src.problem(key.name, f"{exc.reason}; ignored", exc.kind)
            return
        shown = "(hidden)" if key.secret else json.dumps(key.safest)
        src.problem(key.name, f"{exc.reason}; the safest value ({shown}) applies", exc.kind)
        src.entries.append(Entry(key.name, key.safest, locked, invalid=True))
        return
    for reason in dropped:
        src.problem(key.name, reason, "bad_item")
    src.entries.append(Entry(key.name, value, locked))


# --- the machine's locations ----------------------------------------------------------------------


def this_system() -> System:
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


@dataclass(frozen=True)
class Locations:
    system: System
    root: Path = Path("/")  # prefix of /etc and /Library (a temporary folder in tests)
    program_data: Path | None = None  # Windows: %ProgramData%
    registry: RegistryReader | None = None
    user_file: Path | None = None  # the person's own file: it may only tighten

    @classmethod
    def for_profile(cls, profile: Profile) -> Locations:
        """This machine's locations, with the profile's user-level file."""
        return cls.for_this_machine(profile.root / USER_FILE)

    @classmethod
    def for_this_machine(cls, user_file: Path | None = None) -> Locations:
        system = this_system()
        if system == "windows":
            return cls(
                system,
                program_data=Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")),
                registry=WindowsRegistry(),
                user_file=user_file,
            )
        return cls(system, user_file=user_file)

    def files(self) -> list[Path]:
        """The machine's policy files, highest precedence first (the registry comes before)."""
        if self.system == "windows":
            base = self.program_data or Path(r"C:\ProgramData")
            return [base / "Meridian" / "policy.json"]
        if self.system == "macos":
            return [self.root / "Library" / "Managed Preferences" / f"{MACOS_BUNDLE_ID}.plist"]
        etc = self.root / "etc" / "meridian"
        try:
            drop_ins = sorted((etc / "policy.d").glob("*.json"), key=lambda p: p.name)
        except OSError:
            drop_ins = []
        return [etc / "policy.json", *reversed(drop_ins)]


def machine_sources(loc: Locations) -> list[Source]:
    """Every machine source that exists, highest precedence first."""
    found: list[Source | None] = []
    if loc.system == "windows" and loc.registry is not None:
        found.append(read_registry(loc.registry))
    for path in loc.files():
        found.append(read_plist_file(path) if path.suffix == ".plist" else read_json_file(path))
    return [s for s in found if s is not None]


def user_source(loc: Locations) -> Source | None:
    return read_json_file(loc.user_file, "user") if loc.user_file else None
