"""Thin Bolt listeners: acknowledge, parse, hand to commands/, render the answer."""
