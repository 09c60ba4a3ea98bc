"""`course site [--serve]`: build the course website; preview it on this machine, rebuilt as lessons change."""

from __future__ import annotations

import sys
import time

from ..options import Command, argument

WATCH_INTERVAL_S = 0.5  # a look costs about 12 ms on the default course


def site(args) -> int:
    from ..config import course_root, load_config
    from ..formatting import shown
    from .build import SiteBuilder

    root = course_root()
    print("course site: building build/site/ from the lessons as they last ran (this runs no lesson) ...", flush=True)
    with SiteBuilder(root, load_config(root)) as builder:
        builder.build()
        print(f"course site: built {shown(builder.out / 'index.html')}")
        smoke = smoke_pages(root)
        if smoke:
            print(
                f"course site: {', '.join(smoke)} show{'s' if len(smoke) == 1 else ''} a smoke run (small parameters; the "
                "page says so): `course test` or `course run LESSON --full` publishes the lesson's real outputs"
            )
        if args.serve:
            return serve(builder, args.port)
    return 0


def serve(builder, port: int) -> int:
    """Serve the site on 127.0.0.1 and rebuild it when a lesson, its newest run, the README or the report
    changes (Sphinx stays loaded, so a rebuild costs only the changed pages), until Ctrl-C or SIGTERM."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from ..errors import CourseError
    from ..harness import processes

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(builder.out)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(f"course site: serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        with processes.stop_on_signals():
            while True:
                time.sleep(WATCH_INTERVAL_S)
                started = time.perf_counter()
                try:
                    changed = builder.build()
                except CourseError as error:
                    print(f"course site: error: {error}", file=sys.stderr, flush=True)
                    continue
                if changed:
                    seconds = time.perf_counter() - started
                    print(f"course site: rebuilt in {seconds:.1f} s: {', '.join(changed)}", flush=True)
    except KeyboardInterrupt:
        print("course site: stopped")
    finally:
        server.shutdown()
        server.server_close()
    return 0


def smoke_pages(root) -> list[str]:
    """The lessons whose page shows a smoke run: they have no full-size run yet."""
    from ..lessons import lesson_files
    from .sources import run_to_publish

    runs = {lesson.stem: run_to_publish(root, lesson.stem, None) for lesson in lesson_files(root, strict=True)}
    return [stem for stem, run in runs.items() if run is not None and run.smoke]


COMMANDS = [
    Command(
        "site",
        help="build the course website in build/site/ from the executed lessons (it runs none)",
        description="Build a static website of the course: the README's home page, one page per lesson with the "
        "outputs of its newest run, the last report. Needs the site tools: pip install -e '.[site]'.",
        handler=site,
        arguments=(
            argument(
                "--serve", action="store_true", help="then serve it on 127.0.0.1 and rebuild it as lessons change"
            ),
            argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0 picks a free one)"),
        ),
    )
]
