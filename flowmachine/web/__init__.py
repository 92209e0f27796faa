"""The view layer: one endpoint per URL of a flow, lazy creation, running a step, the diagram pages.

Private: a :class:`flowmachine.FlowHandler` builds these views for its URLs.
"""
