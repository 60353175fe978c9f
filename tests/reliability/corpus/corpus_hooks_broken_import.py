"""A hook module whose own import fails."""

import does_not_exist_anywhere_xyz  # type: ignore[import-not-found]  # noqa: F401


def before_start(**kwargs: object) -> bool:
    return True
