"""Vendor simulators, conformance fixtures and real-response corpora, one folder per connector key."""
