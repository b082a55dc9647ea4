"""When the scheduled jobs run (UTC), as taskiq schedule labels.

`wump scheduler` reads these through taskiq's `LabelScheduleSource` and sends
each job to the queue when its cron expression matches. Run one scheduler:
two would send every scheduled job twice (harmless, the jobs are idempotent,
but twice the provider requests).
"""

from typing import Any

from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource

from wump.jobs.schemas import JobType

# Cron expressions (minute hour day-of-month month day-of-week), in UTC.
CRONS: dict[JobType, str] = {
    # Daily at 02:00: re-discover dependents of tracked and recently requested packages.
    JobType.REFRESH_TRACKED: "0 2 * * *",
    # Weekly, Sunday 03:00: refresh owner profiles older than JOB_ENRICH_STALE_DAYS.
    JobType.ENRICH_ORGANIZATIONS: "0 3 * * 0",
    # Monthly, on the 1st at 04:00: abandoned jobs, old records, vanished repositories.
    JobType.CLEANUP: "0 4 1 * *",
    # Daily at 00:05: take recent-activity points off owners whose last push aged out.
    JobType.RESCORE: "5 0 * * *",
}


def schedule_labels(job_type: JobType) -> dict[str, Any]:
    """The task labels that put `job_type` on the schedule (none for unscheduled jobs)."""
    cron = CRONS.get(job_type)
    if cron is None:
        return {}
    schedule = {"cron": cron, "cron_offset": "UTC", "schedule_id": f"{job_type.value}:{cron}"}
    return {"schedule": [schedule]}


def build_scheduler(broker: AsyncBroker) -> TaskiqScheduler:
    return TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])
