"""What the harness runs inside a lesson's kernel besides the lesson itself.

The worker sends this file's source to the kernel and calls one of its functions there, in a
namespace of its own, so the lesson's variables and ``sys.modules`` see none of it. Standard
library only: the kernel may have nothing else yet.

- ``prepare``: a failing shell command fails its cell (``!cmd`` and ``%pip``, which IPython only
  records in ``_exit_code``; ``!!cmd``, ``x = !cmd``, ``%sx`` and ``%system``, which it ignores);
  each cell's printed output is capped, keeping its head and tail and saying how much was dropped,
  so a runaway loop cannot fill memory or the executed notebook; then the lesson's own imports
  are loaded (pre-warming) and frozen out of the garbage collector's walks.
- ``probe``: the device the lesson used and its peak GPU memory, without initialising CUDA.
"""

import subprocess
import sys
from collections import deque


class CommandFailed(subprocess.CalledProcessError):
    """A shell command of the lesson ended with a non-zero status; the message ends with its last output."""

    def __str__(self):
        text = f"`{self.cmd}` exited with status {self.returncode}"
        lines = [line for line in (self.output or "").splitlines() if line.strip()]
        return f"{text}: {lines[-1].strip()}" if lines else text


def check_shell_commands(shell):
    run_system = shell.system

    def system(cmd):
        run_system(cmd)
        status = shell.user_ns.get("_exit_code", 0)
        if status:
            raise CommandFailed(status, cmd)

    def getoutput(cmd, split=True, depth=0):
        from IPython.utils.text import LSString, SList

        expanded = shell.var_expand(cmd, depth=depth + 1)
        done = subprocess.run(expanded, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise CommandFailed(done.returncode, expanded, output=done.stdout)
        return SList(done.stdout.splitlines()) if split else LSString(done.stdout)

    shell.system = system
    shell.getoutput = getoutput


class CappedStream:
    """A cell's stream output: the first ``head`` characters go out at once, the last ``tail`` at its end."""

    def __init__(self, stream, head, tail):
        self._stream, self._head, self._tail = stream, head, tail
        self.reset()

    def reset(self):
        self._written, self._dropped, self._kept, self._kept_length = 0, 0, deque(), 0

    def write(self, text):
        length = len(text)
        if self._written < self._head:
            passed = text[: self._head - self._written]
            self._written += len(passed)
            text = text[len(passed) :]
            self._stream.write(passed)
        if text:
            self._kept.append(text)
            self._kept_length += len(text)
            self._dropped += len(text)
            while self._kept_length - len(self._kept[0]) >= self._tail:
                self._kept_length -= len(self._kept.popleft())
        return length

    def end_of_cell(self):
        if self._dropped:
            tail = "".join(self._kept)[-self._tail :]
            dropped = self._dropped - len(tail)
            if dropped > 0:
                self._stream.write(f"\n[... {dropped:,} characters of output dropped here by course test ...]\n")
            self._stream.write(tail)
            self._stream.flush()
        self.reset()

    def __getattr__(self, name):  # flush, fileno, isatty, set_parent, ...: the real stream's
        return getattr(self._stream, name)


def cap_output(shell, head, tail):
    streams = []
    for name in ("stdout", "stderr"):
        capped = CappedStream(getattr(sys, name), head, tail)
        setattr(sys, name, capped)
        streams.append(capped)
    shell.events.register("pre_run_cell", lambda *_: [stream.reset() for stream in streams])
    shell.events.register("post_run_cell", lambda *_: [stream.end_of_cell() for stream in streams])


def warm(names):
    """Import what the lesson will import, then keep the imports out of the garbage collector's walks.

    The imports live as long as the kernel: with torch and fastai loaded, every full collection
    would otherwise walk half a million objects, and one can fall inside a short training loop.
    """
    import gc
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the lesson meets the same error itself, in its own cell
            pass
    gc.freeze()


def prepare(shell, head, tail, imports):
    check_shell_commands(shell)
    cap_output(shell, head, tail)
    warm(imports)


def probe():
    """Print, as JSON, what the lesson used; CUDA counts only if the lesson itself initialised it."""
    import json

    torch = sys.modules.get("torch")
    found = {"device": "cpu", "gpu_name": None, "peak_gpu_memory_mb": None}
    if torch is not None and torch.cuda.is_initialized():
        index = torch.cuda.current_device()
        found = {
            "device": "cuda",
            "gpu_name": torch.cuda.get_device_name(index),
            "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated(index) / 2**20, 1),
        }
    print(json.dumps(found))
