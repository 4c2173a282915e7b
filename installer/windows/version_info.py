"""The Windows version resource (File Properties > Details) of Meridian's executables.

Imported by build.spec on Windows; importable anywhere (PyInstaller's versioninfo module is pure
Python), so tests check it on Linux.
"""

from __future__ import annotations

from typing import Any

COMPANY = "Meridian contributors"


def numeric(version: str) -> tuple[int, int, int, int]:
    """'1.2.3' / '1.2.3rc1' / '1.2' -> (1, 2, 3, 0): Windows wants four 16-bit numbers."""
    out: list[int] = []
    for part in version.split(".")[:4]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        out.append(min(int(digits or 0), 65535))
    while len(out) < 4:
        out.append(0)
    return (out[0], out[1], out[2], out[3])


def version_info(name: str, app_id: str, version: str) -> Any:
    from PyInstaller.utils.win32.versioninfo import (
        FixedFileInfo,
        StringFileInfo,
        StringStruct,
        StringTable,
        VarFileInfo,
        VarStruct,
        VSVersionInfo,
    )

    nums = numeric(version)
    return VSVersionInfo(
        ffi=FixedFileInfo(
            filevers=nums,
            prodvers=nums,
            mask=0x3F,
            flags=0x0,
            OS=0x40004,  # VOS_NT_WINDOWS32
            fileType=0x1,  # VFT_APP
            subtype=0x0,
            date=(0, 0),
        ),
        kids=[
            StringFileInfo(
                [
                    StringTable(
                        "040904B0",  # U.S. English, Unicode
                        [
                            StringStruct("CompanyName", COMPANY),
                            StringStruct("FileDescription", f"{name} calendar sync"),
                            StringStruct("FileVersion", version),
                            StringStruct("InternalName", app_id),
                            StringStruct("LegalCopyright", f"{COMPANY}, Apache-2.0"),
                            StringStruct("OriginalFilename", f"{name}.exe"),
                            StringStruct("ProductName", name),
                            StringStruct("ProductVersion", version),
                        ],
                    )
                ]
            ),
            VarFileInfo([VarStruct("Translation", [1033, 1200])]),
        ],
    )
