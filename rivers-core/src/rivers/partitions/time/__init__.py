"""Time-window partitions and the time machinery under them.

* :mod:`~rivers.partitions.time.window` — :class:`TimeWindowPartitions`, the partition type;
* :mod:`~rivers.partitions.time.keys` — what a definition compiles to: keys <-> ticks, bounds, "now";
* :mod:`~rivers.partitions.time.timeline` — the ticks of one definition, cut to its bounds, minus DST gaps;
* :mod:`~rivers.partitions.time.grids` — tick grids of crons and intervals on the wall-clock timeline;
* :mod:`~rivers.partitions.time.cron` — cron expressions (``DAILY_CRON``, ``HOURLY_CRON``);
* :mod:`~rivers.partitions.time.formats` — rendering keys with a ``fmt`` and parsing them back;
* :mod:`~rivers.partitions.time.zones` — loading time zones and finding DST gaps.
"""
