"""Helpers that feed the served prompt into agent frameworks and record feedback from them:
`gepad.integrations.langchain`, `.openai_agents`, `.pydantic_ai`, over `.served`. Nothing is
imported here: each framework is imported only by its own module, so gepad requires none."""
