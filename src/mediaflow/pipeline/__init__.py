"""The analysis pipeline: the stages a media file goes through, and their log.

``log`` writes processing_log rows (one per stage event, each in its own short
transaction); ``stages`` runs the stages of one file; ``runner`` runs a whole job.
"""
