"""Visit planning and the scheduler process.

`scheduler.planner` computes a month's plan as a pure function over plain data
(`plan_month`, `sweep_overdue`); `scheduler.due_dates` holds the calendar rules
(the month in the local zone, tier windows, working days); `scheduler.geo` the distances.
"""
