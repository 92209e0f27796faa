"""State stores of django-flowmachine, installed as ``flowmachine.backends``.

Each module holds a class named ``StateStore`` extending
:class:`flowmachine.backends.base.BaseStateStore`; ``FLOWS_STATE_STORE`` names
the module to use, and :func:`get_store` returns this process's instance of it.
"""

from flowmachine.backends.loader import get_store

__all__ = ["get_store"]
