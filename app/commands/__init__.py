"""Sub-commands of ``meridian``: each module adds its parser and handles its command.

A module exposes ``register(sub)`` (adds its sub-parser with ``set_defaults(handler=...)``).
Handlers take the parsed arguments and return an exit code.
"""
