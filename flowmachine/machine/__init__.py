"""Compiling flows: the place tree, the one edge table, the state machine, paths, data flow and deploys.

Private: what users need is re-exported by :mod:`flowmachine`, :mod:`flowmachine.testing`
and :mod:`flowmachine.diagrams`. Imports only the definition API and the foundation.
"""
