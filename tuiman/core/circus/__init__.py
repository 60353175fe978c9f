"""Circus compatibility: `.ini` files read (`loader`, `model`), their options checked
(`options`) and translated (`translate`) into tuiman's own config model.

Imports `config` downward only; nothing below imports it.
"""
