"""The base of the errors a user can fix: entry scripts print them as one line, no traceback."""


class UserError(Exception):
    """Bad input (a missing file, a malformed annotation, a wrong setting) with a message saying what to do."""
