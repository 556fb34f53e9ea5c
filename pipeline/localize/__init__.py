"""Localization: run two representations of one model with tapped tensors and name the first node that diverges."""
