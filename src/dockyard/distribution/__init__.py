"""The registry client (OCI distribution spec, Docker Registry HTTP API v2).

``config`` (the daemon.json settings), ``credentials`` (the docker CLI's config.json and
credential helpers), ``client`` (transport, TLS, the WWW-Authenticate challenge), ``pull``
and ``push``. Nothing here is imported by the CLI's hot paths: httpx and ssl load only
when a registry is contacted.
"""
