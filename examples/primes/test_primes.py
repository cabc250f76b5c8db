"""Correctness tests: the check command runs them before every measurement."""
import unittest

from primes import count_primes, is_prime


class PrimesTest(unittest.TestCase):
    def test_small_numbers(self):
        self.assertEqual([n for n in range(20) if is_prime(n)], [2, 3, 5, 7, 11, 13, 17, 19])

    def test_counts(self):
        self.assertEqual(count_primes(2), 0)
        self.assertEqual(count_primes(100), 25)
        self.assertEqual(count_primes(1000), 168)
        self.assertEqual(count_primes(10007), 1229)

    def test_negative_and_zero(self):
        self.assertFalse(is_prime(-7))
        self.assertFalse(is_prime(0))
        self.assertFalse(is_prime(1))


if __name__ == "__main__":
    unittest.main()
