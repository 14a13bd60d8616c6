"""`python -m agentwatch`: the same entry point as the console script."""

from agentwatch.cli import main

if __name__ == "__main__":
    main()
