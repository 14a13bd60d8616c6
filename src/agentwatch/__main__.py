"""`python -m agentwatch`: the same entry point as the console script."""

from agentwatch.launch import main

if __name__ == "__main__":
    main()
