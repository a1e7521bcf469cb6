from synthgen.orchestrator.cli.app import main

main()
