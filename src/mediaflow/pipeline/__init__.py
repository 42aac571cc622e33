"""The analysis pipeline: the stages a media file goes through, and their log.

- ``ingest``: files -> the content store, one job and one media_file row each;
- ``stages``: the stages of one file (``Pipeline.process_file``);
- ``records``: what the stages write (``DatabaseRecords``), each write a short
  transaction; ``log``: processing_log rows;
- ``runner``: a whole job in this process, and a job's final status;
- ``worker``: the queue worker that runs files queued by ``mediaflow.queue``.
"""
