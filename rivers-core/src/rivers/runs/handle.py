"""``RunHandle``: a run that was submitted and may still be queued or going."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future

    from rivers.execution.result import RunResult
    from rivers.storage import Storage

__all__ = ["RunControl", "RunHandle"]


class RunControl(Protocol):
    """What a handle asks of the launcher that submitted its run (:class:`~rivers.runs.RunLauncher` is one)."""

    @property
    def storage(self) -> Storage:
        """The store the run is recorded in."""

    def first_error(self, run_id: str) -> BaseException | None:
        """The first step error of ``run_id`` (None: none, or not known in this process)."""

    def cancel(self, run_id: str) -> bool:
        """Ask ``run_id`` to stop; whether it was queued or going."""


class RunHandle:
    """A submitted run: ``run_id``, its live ``status``, ``wait()`` for its result, ``cancel()``.

    Returned by ``CodeRepository.materialize(block=False)`` and
    :meth:`RunLauncher.submit`. ``future`` is a
    :class:`concurrent.futures.Future` of the :class:`~rivers.RunResult`
    (for ``concurrent.futures.wait`` over several handles).
    """

    def __init__(self, launcher: RunControl, run_id: str, future: Future[RunResult], raise_on_error: bool) -> None:
        self._launcher = launcher
        self._run_id = run_id
        self.future = future
        self._raise_on_error = raise_on_error

    @property
    def run_id(self) -> str:
        """The run's id (already recorded, as ``Queued``, when the handle is returned)."""
        return self._run_id

    @property
    def status(self) -> str:
        """The run's stored status: ``"Queued"``, ``"Started"``, ``"Success"``, ``"Failure"`` or ``"Canceled"``."""
        record = self._launcher.storage.get_run(self._run_id)
        return "Queued" if record is None else record.status

    def done(self) -> bool:
        """Whether the run has finished (successfully or not)."""
        return self.future.done()

    def wait(self, timeout: float | None = None) -> RunResult:
        """Wait for the run to finish and return its :class:`~rivers.RunResult`.

        :raises TimeoutError: when it is still going after ``timeout`` seconds.
        With ``raise_on_error`` (the default of ``materialize``) the first
        failure's exception is raised instead of returning a failed result.
        """
        from concurrent.futures import TimeoutError as FutureTimeout

        try:
            result = self.future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"run {self._run_id} still {self.status.lower()} after {timeout}s") from None
        if self._raise_on_error and not result.success:
            error = self._launcher.first_error(self._run_id)
            if error is not None:
                raise error
        return result

    def cancel(self) -> bool:
        """Cancel the run: a queued run never starts, a running one stops before its next step.

        Returns ``False`` when it had finished already.
        """
        return self._launcher.cancel(self._run_id)

    def __repr__(self) -> str:
        return f"RunHandle(run_id={self._run_id!r})"
