"""Interoperability with other tools: the Neuromorphic Intermediate Representation (:mod:`.nir`)."""
