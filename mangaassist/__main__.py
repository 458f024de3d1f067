"""`python -m mangaassist` is the `mangaassist` command."""

from mangaassist.cli import main

raise SystemExit(main())
