"""The harness: times count_primes and prints the metric.

ratchet mounts this file read-only; the model may not change it.
"""
import time

from primes import count_primes

LIMIT = 6000
EXPECTED = 783

start = time.perf_counter()
result = count_primes(LIMIT)
elapsed = time.perf_counter() - start
if result != EXPECTED:
    raise SystemExit(f"wrong answer: {result} primes below {LIMIT}, expected {EXPECTED}")
print(f"seconds: {elapsed:.6f}")
