"""`python -m filament.config`: the config API role on its own."""

from filament.cli import main

raise SystemExit(main(["api", *__import__("sys").argv[1:]]))
