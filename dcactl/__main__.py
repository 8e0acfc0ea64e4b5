from dcactl.cli import main

main()
