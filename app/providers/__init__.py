"""Calendar backends behind one contract (base.py)."""
