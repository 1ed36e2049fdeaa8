"""The one exception type for bad input: its message names the input and the fix."""


class InputError(ValueError):
    """Raised when user-supplied data or settings cannot be used as given."""
