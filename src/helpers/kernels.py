"""The runner's next kernel, started while the current notebook runs.

papermill starts a fresh Python kernel for every notebook and waits for it to boot (~0.5-1 s of
imports on a 2-core laptop), while the notebook before it mostly waits for the cloud. The runner
therefore starts the next notebook's kernel as the current one starts running, and hands it to
papermill, which then only connects. The kernel is started exactly as papermill (nbclient) starts
one: same kernel name, arguments, working directory and environment, nothing executed in it; each
notebook still gets a kernel of its own, shut down after its notebook.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

KERNEL_NAME = "python3"
# ipykernel's "Kernel is running over TCP without encryption" notice, once per notebook: the kernel
# listens on 127.0.0.1 only (README, JupyterLab). papermill's runs pass the same.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
_HISTORY = "--HistoryManager.hist_file=:memory:"  # what nbclient adds when it starts a kernel itself
_imports: threading.Thread | None = None


def preload() -> None:
    """Import papermill (and with it nbclient and jupyter_client, ~0.3 s) in the background, once."""
    global _imports
    if _imports is None:
        _imports = threading.Thread(target=_import_papermill, daemon=True, name="helpers-import-papermill")
        _imports.start()


def wait_preload() -> None:
    """Wait for :func:`preload`'s imports: one thread imports them, never two at once (jupyter_client's
    modules import each other, and two threads importing them together see half-made modules)."""
    if _imports is not None:
        _imports.join()


def _import_papermill() -> None:
    import papermill  # noqa: F401


class KernelStarter:
    """Starts kernels in the background; :meth:`take` returns one (or None: let papermill start its own)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._pending: threading.Thread | None = None
        self._started: dict[str, Any] = {}
        self._stopping: list[threading.Thread] = []

    def start_next(self) -> None:
        """Start a kernel in the background for the notebook after the current one."""
        self.discard()
        self._started = {}
        self._pending = threading.Thread(target=self._start, args=(self._started,), daemon=True,
                                         name="helpers-next-kernel")
        self._pending.start()

    def _start(self, box: dict[str, Any]) -> None:
        wait_preload()
        from jupyter_client.manager import AsyncKernelManager

        manager = AsyncKernelManager(kernel_name=KERNEL_NAME)
        try:
            asyncio.run(manager.start_kernel(extra_arguments=[*KERNEL_ARGUMENTS, _HISTORY], cwd=str(self.cwd)))
        except Exception as error:  # papermill starts its own and reports a real problem itself
            box["error"] = error
            return
        box["manager"] = manager

    @property
    def started(self) -> bool:
        """A kernel is starting or started and not yet taken."""
        return self._pending is not None

    def take(self) -> Any | None:
        """The kernel started for this notebook (its manager), or None."""
        if self._pending is None:
            return None
        self._pending.join()
        self._pending = None
        manager, self._started = self._started.get("manager"), {}
        return manager

    def stop(self, manager: Any | None) -> None:
        """Shut a used kernel down in the background (it is killed: nothing in it matters any more)."""
        if manager is None:
            return
        thread = threading.Thread(target=_shutdown, args=(manager,), daemon=True, name="helpers-kernel-stop")
        thread.start()
        self._stopping.append(thread)

    def discard(self) -> None:
        """Stop a started kernel nobody took."""
        self.stop(self.take())

    def close(self) -> None:
        """Stop what is left and wait until every kernel is gone (no process outlives the runner)."""
        self.discard()
        for thread in self._stopping:
            thread.join(timeout=30)
        self._stopping = []


def _shutdown(manager: Any) -> None:
    try:
        asyncio.run(manager.shutdown_kernel(now=True))
    except Exception:  # already gone
        pass
