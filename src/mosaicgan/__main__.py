from mosaicgan.cli import main

raise SystemExit(main())
