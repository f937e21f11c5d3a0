"""Snyk connector (Snyk Ltd.): declarative (manifest.yaml). Snyk pages its issue and project
listings by id (``starting_after`` in ``links.next``), not by update time, so both are read as
resumable sessions (``sdk.resumable``): the cursor moves when a listing is finished."""

from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.resumable import NextUrlSessionReader
from aria_connectors.sdk.sessions import SessionConnector


class SnykConnector(SessionConnector):
    reader_classes = {"issues": NextUrlSessionReader, "projects": NextUrlSessionReader}


connector = ConnectorPlugin.from_package(__name__, instance_class=SnykConnector)
