"""SecureBoost math: XGBoost-hist boosting split between two parties; no I/O, no crypto.

The modules here are pure: binning, objectives, fixed-point gradients, histograms,
split gains, trees as each party sees them, sampling, the models each party persists
and a plaintext reference trainer on joined data (the oracle the federated protocol in
protocol/secureboost must reproduce exactly).
"""
