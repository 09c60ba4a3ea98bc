"""The lesson harness: execute lessons with papermill and report what ran, where, and how fast.

``course test``, ``course run``, ``course sweep`` and the pytest integration all come here.
A lesson flows: ``command`` (or experiments) builds a ``job.LessonJob`` -> ``runner`` starts a
``worker`` process and hands it the job as JSON -> the worker starts a kernel (``kernel``),
executes the notebook with papermill and writes a ``job.LessonResult`` -> ``report`` prints and
writes it, and ``cache`` remembers passes. ``processes`` builds children's environments and
kills what a lesson leaves behind. ``warm_starts`` lets workers and kernels fork from a process
that has imported the lessons' modules once (``warm``, ``forked``; `course warm` keeps one).
"""
