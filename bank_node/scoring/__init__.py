"""Real-time scoring on the bank node: the bank's part of a joint model (model.py),
the engine that asks the operator for its part over a warm channel (engine.py) and
the HTTP/JSON API for the bank's risk systems (api.py)."""
