"""The one error type for bad user input.

Anything the user can fix (a malformed config, an edge out of range, an unknown backbone, a data set
without its label column) raises :class:`PlacementSearchError` with a one-line message that names the
problem and the fix. The CLI turns it into ``error: <message>`` and exit code 2; library users can
catch it like any ``ValueError``.
"""


class PlacementSearchError(ValueError):
    """Bad input the user can fix; the message is one line naming the problem and the fix."""
