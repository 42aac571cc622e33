"""What every cloud provider shares: HTTP with the error tree, keys, splitting, prices.

- ``http``: one HTTP call to a vendor, its answer mapped onto the error tree
  (429/5xx/timeouts transient with ``Retry-After``; other answers carry the vendor's
  own message; keys scrubbed from everything that leaves), plus a poll loop.
- ``base``: ``CloudTranscriber`` and ``CloudAnalyzer``, the two bases that check the
  key, split over-size input and record billed units.
- ``split``: audio split by time with overlap and stitched back by timestamps.
- ``pricing``: the dated default price table and cost estimates.
"""
