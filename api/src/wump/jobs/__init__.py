"""Background work: job functions, their schedules, and the record of every run."""
