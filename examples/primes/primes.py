"""Counting primes: the subject ratchet optimizes.

The implementation is deliberately naive (trial division by every smaller
number) so there is plenty to improve.
"""


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for d in range(2, n):
        if n % d == 0:
            return False
    return True


def count_primes(limit: int) -> int:
    """Number of primes strictly below `limit`."""
    return sum(1 for n in range(limit) if is_prime(n))
