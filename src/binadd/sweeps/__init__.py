"""Sweeps: many (config, seed) trials, run, recorded, and summarized over seeds.

:func:`~binadd.sweeps.runner.run_sweep` is the entry point. ``spec`` reads a
sweep file, ``trial`` runs one trial in a worker, ``backends`` runs trials in
local processes or on Ray, ``store`` keeps every result in one SQLite file,
and ``report`` and ``report_html`` summarize a sweep into tables, figures and
an HTML page.
"""
