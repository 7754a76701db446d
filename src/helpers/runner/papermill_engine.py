"""papermill's own engine, saving the executed notebook at most once a second instead of twice a cell.

papermill writes the whole output notebook before and after every cell (validated JSON, ~3 ms for
ours): 227 writes, ~0.65 s, in a series whose local cells mostly take milliseconds. This engine
(papermill's engine registry, ``engine_name=ENGINE_NAME``) keeps papermill's behaviour but for the
timing of those writes: the notebook is still written when it starts, at most every
``MIN_SECONDS_BETWEEN_SAVES`` while it runs, and always when it ends or fails, with papermill's
metadata. A write that comes too soon is made later instead, when the second is up, by the event
loop nbclient runs each cell in (jupyter_core's loop of this thread: the thread that changes the
notebook, so it is never written half-changed): a cell that runs for minutes on AWS is seen running
in the file, as with papermill's own engine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_core.utils import ensure_event_loop
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE_NAME = "pipeline-dreams"
MIN_SECONDS_BETWEEN_SAVES = 1.0


class ThrottledSaves(NotebookExecutionManager):
    """papermill's execution manager; its per-cell saves wait until the last is a second old."""

    _forced = False
    _later: asyncio.TimerHandle | None = None

    def save(self, **kwargs: Any) -> None:
        if kwargs.get("nb"):  # what papermill's catch_nb_assignment does, even when the write is deferred
            self.nb = kwargs["nb"]
        wait = MIN_SECONDS_BETWEEN_SAVES - (self.now() - self.last_save_time).total_seconds()
        if self._forced or wait <= 0:
            self._write()
        elif self._later is None:  # runs while the next cell executes, if it lasts that long
            self._later = ensure_event_loop().call_later(wait, self._write)

    def _write(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        super().save()

    def notebook_start(self, **kwargs: Any) -> None:
        self._forced = True  # the first write is never skipped
        try:
            super().notebook_start(**kwargs)
        finally:
            self._forced = False

    def notebook_complete(self, **kwargs: Any) -> None:
        self._forced = True  # nor the last (papermill's "force a final sync"), failed or not; it cancels a deferred one
        super().notebook_complete(**kwargs)


class ThrottledSavesEngine(NBClientEngine):
    """:class:`NBClientEngine` with :class:`ThrottledSaves` in place of papermill's manager."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None, progress_bar: Any = True,
                         log_output: bool = False, autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        # papermill's Engine.execute_notebook, with the manager class changed
        manager = ThrottledSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                 autosave_cell_every=autosave_cell_every)
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        finally:
            manager.cleanup_pbar()
            manager.notebook_complete()
        return manager.nb


papermill_engines.register(ENGINE_NAME, ThrottledSavesEngine)
