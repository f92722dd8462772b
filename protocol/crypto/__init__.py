"""Cryptographic primitives both parties must agree on: Paillier and CKKS.

Paillier: phe-compatible keys, DJN encryption, fixed-point packing. CKKS: TenSEAL.

Modules: paillier_raw (gmpy2 arithmetic and tables), paillier_keys, fixedpoint
(encoding and packing), paillier_vector (the vector type), paillier (encryption,
decryption, homomorphic operations), paillier_compress (packing result ciphertexts),
phe_interop, parallel (process and thread pools),
wire (Paillier serialization), ckks (TenSEAL presets, contexts, masking and flooding).
This package imports nothing heavy so that worker processes start quickly.
"""
