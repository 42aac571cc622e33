"""Benchmark the NumPy all-MiniLM-L6-v2 encoder (mediaflow.providers.text_embedding); not a test.

Prints the load time, sentences per second at batch size 1 and 32, the time to embed
one hour of transcript (600 generated segments of about 15 words) and the peak RSS.
The product target is that hour in under 10 s on 2 cores.

    python bench/embedding.py [--segments 600] [--words 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time

from tokenizers import Tokenizer

from mediaflow.providers.text_embedding import TextEmbedder, availability, model_dir

TARGET_SECONDS = 10.0

# Everyday words, so the word-piece count per word is close to real speech
_VOCABULARY = (
    "the a to and of we i you it that is in this for on so but not with have be was are "
    "they what just like about can if do at all there will one think going know my or from "
    "people get right now really time yeah well more when our out need then up because "
    "would how which make these some very good also first next meeting project customer "
    "budget release video audio transcript search team plan week report engine data model "
    "question problem working different important number change system information point "
    "morning afternoon yesterday tomorrow together probably actually everyone something "
    "development schedule decision contract support feature update review deadline office"
)
WORDS = _VOCABULARY.split()


def segments(count: int, words: int, seed: int = 7) -> list[str]:
    """Generate ``count`` transcript-like segments of ``words`` +/- 4 words each."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = max(1, words + rng.randint(-4, 4))
        sentence = " ".join(rng.choice(WORDS) for _ in range(n))
        out.append(sentence[0].upper() + sentence[1:] + rng.choice(".?!,"))
    return out


def rate(embedder: TextEmbedder, texts: list[str], repeat: int) -> float:
    """Best sentences per second over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        embedder.embed(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=600)
    parser.add_argument("--words", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    ok, reason = availability()
    if not ok:
        print(f"skipped: {reason}")
        return 1
    print(f"model: {reason}")
    rss_before = peak_rss_mib()

    embedder = TextEmbedder(batch_size=32)
    start = time.perf_counter()
    embedder.load()
    print(f"load: {time.perf_counter() - start:.2f} s")

    texts = segments(args.segments, args.words)
    directory = model_dir()
    assert directory is not None  # availability() said it is there
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped file pads every text to 128
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(texts))
    print(f"input: {len(texts)} segments, {tokens / len(texts):.1f} tokens each on average")
    embedder.embed(texts[:32])  # warm BLAS threads and caches

    sample = texts[:64]
    # batch_size is a plain attribute: one loaded model serves both measurements
    embedder.batch_size = 1
    print(f"batch 1: {rate(embedder, sample, args.repeat):.0f} sentences/s")
    embedder.batch_size = 32
    print(f"batch 32: {rate(embedder, sample, args.repeat):.0f} sentences/s")

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        embedder.embed(texts)
        times.append(time.perf_counter() - start)
    best, worst = min(times), max(times)
    verdict = "OK" if worst < TARGET_SECONDS else "OVER TARGET"
    print(
        f"{len(texts)} segments (batch 32): best {best:.2f} s, worst {worst:.2f} s "
        f"({len(texts) / best:.0f} sentences/s); target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (before loading: {rss_before:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
