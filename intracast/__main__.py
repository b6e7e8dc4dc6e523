from intracast.cli import main

main()
