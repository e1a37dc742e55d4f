"""The encoder backend's feature cache (`feature_cache`)."""
