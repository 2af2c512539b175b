"""Cryptographic building blocks: argon2id hashing, keyed hashes, one-time tokens, password policy."""
