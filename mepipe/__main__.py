from mepipe.cli import main

main()
