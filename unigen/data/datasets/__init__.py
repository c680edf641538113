"""One module per benchmark dataset; each registers a ``Dataset`` subclass on import.

Modules whose names start with ``_`` hold shared machinery (SMILES, CDVAE crystals, graph
pickles) and register nothing. ``unigen.data.registry`` imports the others on first use.
"""
