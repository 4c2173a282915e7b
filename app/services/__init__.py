"""Services: the facade the tray app and the CLI use (accounts, sync, scheduler, diagnostics).

This is the boundary where typed errors are sorted (see app/errors.py).
"""
