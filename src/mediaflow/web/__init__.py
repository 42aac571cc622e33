"""The web page: server-rendered templates and small scripts over the REST API."""
