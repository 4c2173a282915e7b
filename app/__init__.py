"""Meridian: two-way Outlook <-> Google Calendar sync for the desktop."""

import zoneinfo

APP_NAME = "Meridian"
APP_ID = "meridian"
__version__ = "0.1.0"

# One time-zone database everywhere: the tzdata package we ship, never the OS copy, which can be
# years old (Debian 12 has 2025b: wrong for British Columbia from November 2026). Must run before
# any ZoneInfo is created, hence here, on first import of the package.
zoneinfo.reset_tzpath(to=())
