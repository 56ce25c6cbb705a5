"""Pydantic schemas shared by every layer: settings, units, materials and reports."""
