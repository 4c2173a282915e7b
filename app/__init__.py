"""Meridian: two-way Outlook <-> Google Calendar sync for the desktop."""

APP_NAME = "Meridian"
APP_ID = "meridian"
__version__ = "0.1.0"
