"""A hook module that raises while it is imported."""

raise RuntimeError("refusing to be imported")
