"""Running tasks: a task and its record, journal, answers, URLs and page context; ids, events, funnel, cleanup.

Private: the view layer, the test replay and the management commands drive
flows through it. Imports the machine, the stores and the foundation, never the web layer.
"""
