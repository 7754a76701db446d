"""The runner's next kernel, started, and warmed, while the current notebook runs.

papermill starts a fresh Python kernel for every notebook and waits for it to boot (~0.5-1 s of
imports on a 2-core laptop), while the notebook before it mostly waits for the cloud. The runner
therefore starts the next notebook's kernel as the current one starts running, and hands it to
papermill, which then only connects. The kernel is started exactly as papermill (nbclient) starts
one: same kernel name, arguments, working directory and environment; each notebook still gets a
kernel of its own, shut down after its notebook.

Once started, the kernel imports the modules its notebook's import lines name (``import pandas as
pd``, ``import helpers``: ~0.4 s a notebook) and, for ``helpers``, loads boto3 and the kit's service
models (``helpers.sessions.warm``: ~0.4 s), as a warm Lambda has its runtime's imports done:
silently (no execution count, no output, no history), each as ``from M import *`` would, into a
namespace that is thrown away. The notebook's own cells then find them in ``sys.modules``; its
namespace holds nothing it did not make. A module that fails to import is left for the notebook's
own cell to fail on, with its real error.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat

KERNEL_NAME = "python3"
# ipykernel's "Kernel is running over TCP without encryption" notice, once per notebook: the kernel
# listens on 127.0.0.1 only (README, JupyterLab). papermill's runs pass the same.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
_HISTORY = "--HistoryManager.hist_file=:memory:"  # what nbclient adds when it starts a kernel itself
_papermill: threading.Thread | None = None  # papermill's imports
_imports: threading.Thread | None = None  # the last of the imports preload() started (papermill's or later ones)
_IMPORT_LINE = re.compile(r"^(?:from\s+(?P<origin>[A-Za-z_][\w.]*)\s+import\b|import\s+(?P<names>[\w.]+(?:\s+as\s+\w+)?"
                          r"(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)\s*(?:#.*)?$)")
WARM_UP_SECONDS = 60.0
# What a notebook that imports helpers does next (helpers.connect: boto3 imported, a session, a client of each
# service it uses): its kernel does that ahead, into the kit's shared data loader (helpers.sessions.warm):
# ~0.23 s of imports and 0.1-0.2 s of service models a notebook, which a fresh kernel spends in its cells.
WARM_CALLS = {"helpers": "helpers.sessions:warm"}


def preload(modules: list[str] | None = None, then: Callable[[], None] | None = None) -> None:
    """Import papermill (and with it nbclient and jupyter_client, ~0.3 s) in the background, once; with
    ``modules``, import those too, in the background, after what is being imported already, then call ``then``."""
    global _imports, _papermill
    if _papermill is None:
        _papermill = _imports = threading.Thread(target=_import_papermill, daemon=True,
                                                 name="helpers-import-papermill")
        _papermill.start()
    if modules:
        _imports = threading.Thread(target=_import_after, args=(_imports, modules, then), daemon=True,
                                    name="helpers-import-modules")
        _imports.start()


def wait_preload() -> None:
    """Wait for :func:`preload`'s imports: one thread imports at a time, never two at once (jupyter_client's
    modules import each other, and two threads importing them together see half-made modules)."""
    if _imports is not None:
        _imports.join()


def wait_papermill() -> None:
    """Wait for papermill's imports only: the modules :func:`preload` was given later may go on importing
    (the series' last notebook runs while the summary's modules import: ~0.4 s)."""
    if _papermill is not None:
        _papermill.join()


def _import_papermill() -> None:
    import papermill  # noqa: F401

    import helpers.runner.papermill_engine  # noqa: F401  (registers the runner's engine with papermill)


def _import_after(before: threading.Thread, modules: list[str], then: Callable[[], None] | None) -> None:
    before.join()
    for name in modules:
        importlib.import_module(name)
    if then is not None:
        then()


def imported_modules(notebook: Path) -> list[str]:
    """The modules a notebook's unindented import lines name, in order, once each (relative imports left out)."""
    modules: list[str] = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            match = _IMPORT_LINE.match(line)
            if not match:
                continue
            names = [match["origin"]] if match["origin"] else [part.split()[0] for part in match["names"].split(",")]
            modules += [name for name in names if name not in modules]
    return modules


def warm_calls(modules: list[str]) -> list[str]:
    """The ``module:function`` calls of :data:`WARM_CALLS` that ``modules`` (a notebook's imports) call for."""
    calls: list[str] = []
    for name in modules:
        call = WARM_CALLS.get(name.split(".")[0])
        if call and call not in calls:
            calls.append(call)
    return calls


def warm_up_code(modules: list[str], calls: list[str]) -> str:
    """Code that imports ``modules`` (each as ``from M import *``), then makes ``calls`` (``module:function``,
    see :func:`warm_calls`), without binding a name where it runs."""
    body = (f"for _module in {modules!r}:\n"
            "    try:\n"
            "        exec('from ' + _module + ' import *', {})\n"
            "    except Exception:  # the notebook's own import line meets the real error\n"
            "        pass\n"
            f"for _call in {calls!r}:\n"
            "    try:\n"
            "        _name, _function = _call.split(':')\n"
            "        getattr(__import__('importlib').import_module(_name), _function)()\n"
            "    except Exception:  # what it warms is made again where the notebook needs it\n"
            "        pass\n")
    return f"exec({body!r}, {{}})"


class KernelStarter:
    """Starts kernels in the background; :meth:`take` returns one (or None: let papermill start its own).

    Given the run's notebooks, it keeps kernels starting for the next ``ahead`` of them (the first
    notebook is short: the second's kernel is on its way before it ends), each warmed for its notebook.
    (Starting the second only once the first was ready was 0.18 s slower over 7 runs each.) The first
    kernel only imports: its notebook waits for it, and would make its warm calls' clients itself, fewer.
    """

    def __init__(self, cwd: Path, notebooks: list[Path] | tuple[Path, ...] = (), ahead: int = 2) -> None:
        """``notebooks``: the run's notebooks in order (without them: one kernel at a time, not warmed)."""
        self.cwd = cwd
        self._upcoming: list[Path] | None = list(notebooks) if notebooks else None
        self._ahead = ahead
        self._pending: list[tuple[threading.Thread, dict[str, Any]]] = []
        self._stopping: list[threading.Thread] = []
        self._started_any = False

    def start_next(self) -> None:
        """Start kernels in the background for the next notebooks that have none starting yet."""
        wanted = 1 if self._upcoming is None else min(self._ahead, len(self._upcoming))
        while len(self._pending) < wanted:
            modules = imported_modules(self._upcoming[len(self._pending)]) if self._upcoming else []
            calls = warm_calls(modules) if self._started_any else []
            self._started_any = True
            box: dict[str, Any] = {}
            thread = threading.Thread(target=self._start, args=(box, modules, calls), daemon=True,
                                      name="helpers-next-kernel")
            thread.start()
            self._pending.append((thread, box))

    def _start(self, box: dict[str, Any], modules: list[str], calls: list[str]) -> None:
        wait_papermill()
        from jupyter_client.manager import AsyncKernelManager

        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, client_factory=ready_client_class())
        try:
            asyncio.run(manager.start_kernel(extra_arguments=[*KERNEL_ARGUMENTS, _HISTORY], cwd=str(self.cwd)))
        except Exception as error:  # papermill starts its own and reports a real problem itself
            box["error"] = error
            return
        box["manager"] = manager
        if modules:
            warm_up(manager, modules, calls)

    @property
    def started(self) -> bool:
        """A kernel is starting or started and not yet taken."""
        return bool(self._pending)

    def take(self) -> Any | None:
        """The kernel started for this notebook (its manager), or None."""
        if not self._pending:
            return None
        thread, box = self._pending.pop(0)
        thread.join()
        if self._upcoming:
            self._upcoming.pop(0)
        return box.get("manager")

    def stop(self, manager: Any | None) -> None:
        """Shut a used kernel down in the background (it is killed: nothing in it matters any more)."""
        if manager is None:
            return
        thread = threading.Thread(target=_shutdown, args=(manager,), daemon=True, name="helpers-kernel-stop")
        thread.start()
        self._stopping.append(thread)

    def discard(self) -> None:
        """Stop the started kernels nobody took (their notebooks get new ones from :meth:`start_next`)."""
        pending, self._pending = self._pending, []
        for thread, box in pending:
            thread.join()
            self.stop(box.get("manager"))

    def close(self) -> None:
        """Stop what is left and wait until every kernel is gone (no process outlives the runner)."""
        self.discard()
        for thread in self._stopping:
            thread.join(timeout=30)
        self._stopping = []


def ready_client_class() -> type:
    """jupyter_client's async kernel client, which knows the kernel is ready without 0.2 s of waiting.

    nbclient (papermill) waits for a kernel with ``wait_for_ready``: a kernel_info request, its reply,
    then IOPub read until 0.2 s pass without a message, every notebook. This client's wait ends at the
    IOPub "idle" status of its own kernel_info request, the kernel's last message about it; a request
    whose idle does not come within 0.5 s (IOPub not yet subscribed) is asked again, as jupyter_client does.
    """
    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                request = self.kernel_info()
                reply = await self._message_for(self.shell_channel, request, "kernel_info_reply", 1.0)
                if reply and await self._message_for(self.iopub_channel, request, "status", 0.5, state="idle"):
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

        async def _message_for(self, channel: Any, request: str, kind: str, seconds: float,
                               state: str | None = None) -> dict[str, Any] | None:
            """The first ``kind`` message on ``channel`` answering ``request`` within ``seconds``, or None."""
            until = time.monotonic() + seconds
            while (left := until - time.monotonic()) > 0:
                try:
                    message = await channel.get_msg(timeout=left)
                except Empty:
                    return None
                if (message["parent_header"].get("msg_id") == request and message["msg_type"] == kind
                        and (state is None or message["content"].get("execution_state") == state)):
                    return message
            return None

    return ReadyClient


def warm_up(manager: Any, modules: list[str], calls: list[str]) -> None:
    """Run :func:`warm_up_code` in the kernel, silently, and wait until it is done (at most a minute).

    A kernel that does not answer in time is handed over as it is: papermill's own start-up wait and
    the notebook's cells then meet whatever is wrong with it.
    """
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=WARM_UP_SECONDS)
        request = client.execute(warm_up_code(modules, calls), silent=True, store_history=False)
        while True:
            reply = client.get_shell_msg(timeout=WARM_UP_SECONDS)
            if reply["parent_header"].get("msg_id") == request:
                return
    except Exception:  # a timeout or a dead kernel: see above
        return
    finally:
        client.stop_channels()


def _shutdown(manager: Any) -> None:
    try:
        asyncio.run(manager.shutdown_kernel(now=True))
    except Exception:  # already gone
        pass
