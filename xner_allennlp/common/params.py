"""
Helpers for the values configs and command lines pass to the package's components.
"""

from typing import List, Sequence, Union


def as_list(value: Union[None, str, Sequence[str]]) -> List[str]:
    """
    A config value that may be one string or several (`"a.vec"` or `["a.vec", "b.vec"]`) as a
    list; `None` is the empty list. A string is one item, never its characters.
    """
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
