from dcactl.cli.entry import main

main()
