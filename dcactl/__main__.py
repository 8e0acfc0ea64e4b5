from dcactl.cli.app import main

main()
