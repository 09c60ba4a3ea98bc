"""The kernel client nbclient uses in a lesson worker: ready as soon as the kernel answers.

jupyter_client's ``wait_for_ready`` ends by waiting until IOPub has been quiet for 0.2 s,
and it may first wait 0.2 s more for a status message: up to half a second of every
lesson spent idle. Here one ``kernel_info`` round trip proves the shell channel works,
and its ``idle`` status arriving on IOPub proves the subscription is live, so no later
output can be lost; nothing is waited for beyond that.
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient

from .limits import ROUND_TRIP_TIMEOUT_S


class ReadyKernelClient(AsyncKernelClient):
    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            try:
                reply = await self.kernel_info(reply=True, timeout=ROUND_TRIP_TIMEOUT_S)
            except TimeoutError:
                reply = None
            if reply is not None and await self._saw_idle(reply["parent_header"]["msg_id"]):
                return
            if not await self.is_alive():
                raise RuntimeError("the kernel died before it answered")
        raise RuntimeError(f"the kernel did not answer within {timeout:g} s")

    async def _saw_idle(self, request_id: str) -> bool:
        """Whether IOPub carries the idle status of ``request_id`` (False: subscribed too late, ask again)."""
        ends = time.monotonic() + ROUND_TRIP_TIMEOUT_S
        while (left := ends - time.monotonic()) > 0:
            try:
                msg = await self.get_iopub_msg(timeout=left)
            except Empty:
                return False
            if (
                msg["parent_header"].get("msg_id") == request_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return True
        return False
