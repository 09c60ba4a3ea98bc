"""The tools of a course made from the template: the `course` command that tests, publishes and grades it.

One versioned package beside the course's own (``src/<package>/``, what lessons import): it reads the
course from its files (``[tool.course]`` in ``pyproject.toml``, ``lessons/``) and runs its lessons in
kernels of their own, and never imports the course's package except to show what the course's setup
reports (``course env``). A map of the modules is in ``tools/docs/package.md``.
"""

__version__ = "1.0.0"
