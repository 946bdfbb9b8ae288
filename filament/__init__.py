"""Filament: a Tungsten Fabric (OpenContrail) compatible SDN system."""

__version__ = "0.1.0"
