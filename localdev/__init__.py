"""Throwaway local servers and sample data: for the tests, the benchmarks and `syncbot demo`."""
