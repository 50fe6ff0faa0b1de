from alliance_report.cli import main

raise SystemExit(main())
