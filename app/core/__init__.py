"""Pure-Python domain logic of Meridian: no Qt, no network, no imports from the rest of app."""
