"""The desktop app: tray, windows and dialogs. The only package that imports PySide6."""

from app.ui.qtfix import install as _install_qtfix

# Before any signal is emitted anywhere in the app (see qtfix.py: PySide6 6.12 + Python 3.11).
_install_qtfix()
