from synthgen.orchestrator.cli import main

main()
