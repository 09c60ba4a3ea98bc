"""`python -m <package>` is the `course` command, for when the script is not on PATH."""

from .cli import main

raise SystemExit(main())
