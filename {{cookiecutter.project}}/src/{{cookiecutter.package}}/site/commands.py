"""`course site [--serve]`: build the course website; preview it on this machine."""

from __future__ import annotations

from ..options import Command, argument


def site(args) -> int:
    from ..config import course_root, load_config
    from ..formatting import shown
    from .build import build_site

    root = course_root()
    print("course site: building build/site/ from the executed lessons (none is run) ...", flush=True)
    index = build_site(root, load_config(root))
    print(f"course site: built {shown(index)}")
    if args.serve:
        return serve(index.parent, args.port)
    return 0


def serve(folder, port: int) -> int:
    """Serve ``folder`` on 127.0.0.1 until Ctrl-C (or SIGTERM), then stop cleanly."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from ..harness import processes

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(folder)))
    print(f"course site: serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        with processes.stop_on_signals():
            server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("course site: stopped")
    finally:
        server.server_close()
    return 0


COMMANDS = [
    Command(
        "site",
        help="build the course website in build/site/ from the executed lessons (it runs none)",
        description="Build a static website of the course: the README's home page, one page per lesson with the "
        "outputs of its newest run, the last report. Needs the site tools: pip install -e '.[site]'.",
        handler=site,
        arguments=(
            argument("--serve", action="store_true", help="then serve it on 127.0.0.1 for a preview"),
            argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0 picks a free one)"),
        ),
    )
]
