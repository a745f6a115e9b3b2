"""Deploy: run the Pulumi engine on the stacks/ project (stack = environment). Only `engine.py` imports Pulumi."""
