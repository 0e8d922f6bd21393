"""A Glue job run reports the size it runs with, as GetJobRun does on AWS (installed by the glue bridge).

moto gives a run the StartJobRun sizes, else the job's, field by field (``worker_type or job.worker_type``),
but a run of a job sized by worker type (the project's jobs: ``WorkerType`` G.1X, ``NumberOfWorkers`` 2, no
``MaxCapacity``) then reported ``MaxCapacity`` and ``AllocatedCapacity`` as null. AWS reports both as the
run's DPUs: workers times the DPUs of one worker of that type (G.1X 1, G.2X 2, G.4X 4, G.8X 8, G.025X 0.25,
Z.2X 2; the Glue API reference's WorkerType). A run given a ``MaxCapacity`` of its own keeps it.
"""

from __future__ import annotations

from typing import Any

from moto.glue.models import FakeJobRun

from localaws.bridges import patching

DPUS_PER_WORKER = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0, "Z.2X": 2.0}


def run_dpus(worker_type: str | None, workers: int | None) -> float | None:
    """The DPUs of ``workers`` workers of ``worker_type`` (None when either is unknown)."""
    per_worker = DPUS_PER_WORKER.get(worker_type or "")
    if per_worker is None or not workers:
        return None
    return per_worker * workers


def install() -> None:
    """Patch FakeJobRun.as_dict (GetJobRun, GetJobRuns); idempotent."""
    patching.wrap(FakeJobRun, "as_dict", _as_dict_with_run_size)


def _as_dict_with_run_size(original):
    def as_dict(self: FakeJobRun) -> dict[str, Any]:
        result = original(self)
        dpus = run_dpus(result.get("WorkerType"), result.get("NumberOfWorkers"))
        if dpus is not None and result.get("MaxCapacity") is None:
            result["MaxCapacity"] = dpus
            if dpus.is_integer():
                result["AllocatedCapacity"] = int(dpus)
        return result

    return as_dict
