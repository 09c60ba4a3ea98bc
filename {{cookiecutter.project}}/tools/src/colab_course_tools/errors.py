"""One exception type for every failure a user can cause and fix."""


class CourseError(Exception):
    """An expected failure: its message names the cause and the fix.

    The CLI prints it as one line and exits 1; in a notebook the setup cell
    shows it without a traceback.
    """
