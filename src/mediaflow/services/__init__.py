"""The use-cases, each written once: jobs, media, search, keys.

The CLI, the REST API and the web page call these; a route or a command only
translates its input and output. Every function takes the ``Runtime`` it works
with as its first argument and reads nothing global.
"""
