from filament.cli import main

raise SystemExit(main())
